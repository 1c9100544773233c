#!/bin/sh
# Regenerates corpus/agent_config/ for agent_config_fuzz: RAC's two example
# configs unchanged, plus variants covering every key, each duration form,
# each session mode and environment overrides (after a "%%" line, one
# NAME=VALUE per line). Run from anywhere: sh fuzz/corpus/mkcorpus_agent_config.sh
set -eu

here=$(cd "$(dirname "$0")" && pwd)
rac=$(cd "$here/../../../shared/testdata/rac" && pwd)
out="$here/agent_config"
rm -rf "$out"
mkdir -p "$out"

cp "$rac/client.toml" "$out/rac-client"
cp "$rac/client-aktualizr.toml" "$out/rac-client-aktualizr"

head='[torizon]
url = "https://dgw.torizon.io/ras/"
client_cert_path = "/var/sota/import/client.pem"
client_key_path = "/var/sota/import/pkey.pem"
server_cert_path = "/usr/lib/sota/root.crt"
'
seed() { printf '%s' "$2" > "$out/$1"; }

seed torizon-os "$head"'director_url = "https://dgw.torizon.io/director/"

[device]
ssh_private_key_path = "/home/torizon/run/rac/device-key-01.sec"
local_tuf_repo_path  = "/var/run/rac/uptane-repo"
unprivileged_user_group = "torizon:torizon"
poll_timeout = { secs = 60, nanos = 0 }
enable_dbus_client = true

[device.session.spawned_sshd]
config_dir = "/home/torizon/run/rac"
'
seed every-key "$head"'namespace = "8e6f1c2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
http_timeout = [20, 500000000]

[device]
ssh_private_key_path = "device.sec"
local_tuf_repo_path = "uptane-repo"
poll_timeout = "1m30s"
validation_poll_timeout = { secs = 3, nanos = 0 }
commands_dir = "commands"
commands_timeout = "1500ms"
enable_dbus_client = false

[device.session.spawned_sshd]
sshd_path = "/usr/sbin/sshd"
config_dir = "/run/rac"
host_key_path = "/run/rac/host_key_ed25519"
'
seed target-host-ipv6 "$head"'
[device]
ssh_private_key_path = "./k"

[device.poll_timeout]
secs = 4
nanos = 0

[device.session.target_host]
host_port = "[::1]:22"
authorized_keys_path = "/home/torizon/.ssh/authorized_keys"
'
seed no-trailing-slash '[torizon]
url = "http://10.0.0.5:8080/ras"
director_url = "http://10.0.0.5:8080/director"
client_cert_path = "c"
client_key_path = "k"
server_cert_path = "r"
[device]
ssh_private_key_path = "d"
[device.session.embedded]
'
seed env-overrides "$head"'
[device]
ssh_private_key_path = "/k"
poll_timeout = { secs = 4, nanos = 0 }
[device.session.embedded]
%%
RAC__DEVICE__POLL_TIMEOUT__SECS=7
PORTHOLE__DEVICE__COMMANDS_TIMEOUT=2m
RAC__TORIZON__URL=https://env.example/ras/
RAC__DEVICE__ENABLE_DBUS_CLIENT=yes
RAC__DEVICE__SESSION__EMBEDDED__SHELL=/bin/sh
'
seed env-two-modes "$head"'
[device]
ssh_private_key_path = "/k"
[device.session.embedded]
%%
RAC__DEVICE__SESSION__TARGET_HOST__HOST_PORT=127.0.0.1:2222
'
seed porthole-table "$head"'
[device]
ssh_private_key_path = "/k"
[device.session.embedded]
[porthole]
dbus_bus = "system"
long_poll_wait = "40s"
reboot_command = ["systemctl", "reboot", "--when=+{delay_seconds}s", "{}"]
reboot_delay = { secs = 90, nanos = 0 }
restart_service_command = ["/bin/sh", "-c", "exec systemctl restart \"$1\"", "sh", "{service}.service"]
%%
PORTHOLE__PORTHOLE__LONG_POLL_WAIT=0s
PORTHOLE__PORTHOLE__DBUS_BUS=session
'
seed porthole-bad-placeholder "$head"'
[device]
ssh_private_key_path = "/k"
[device.session.embedded]
[porthole]
restart_service_command = ["systemctl", "restart", "{servce}"]
'
seed bad-duration "$head"'
[device]
ssh_private_key_path = "/k"
poll_timeout = 4
[device.session.embedded]
'
