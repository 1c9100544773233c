#!/usr/bin/env bash
# agent_packaging: what packaging/ ships for porthole-agent is valid:
#   - the systemd unit passes systemd-analyze verify (with ExecStart
#     pointing at the built binary) and carries the hardening the service
#     promises;
#   - the example /etc/porthole/agent.toml loads with --check-config and
#     names every key the agent knows;
#   - the man page renders without groff warnings and documents every
#     option of --help, every signal and the porthole-only keys;
#   - the D-Bus policy for the system bus is well-formed XML naming
#     org.porthole.Agent (agent_privileges runs a bus with it).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/agent_lib.sh"
require_cmd systemd-analyze groff xmllint
PKG=$(cd "$(dirname "$0")/../../packaging" && pwd)

trace "systemd unit"
sed "s|^ExecStart=/usr/bin/porthole-agent|ExecStart=$PORTHOLE_AGENT|" "$PKG/porthole-agent.service" >"$WORK/porthole-agent.service"
run systemd-analyze verify --man=no "$WORK/porthole-agent.service"
expect_rc 0 "systemd-analyze verify"
[ -z "$ERR$OUT" ] || fail "systemd-analyze verify complained: $ERR$OUT"
for line in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
  Restart=on-failure "ReadWritePaths=/var/lib/porthole /run/porthole" \
  'ExecReload=/bin/kill -HUP $MAINPID'; do
  grep -qxF "$line" "$PKG/porthole-agent.service" || fail "unit lacks $line"
done

trace "example configuration"
run "$PORTHOLE_AGENT" --check-config --config "$PKG/agent.toml"
expect_rc 0 "--check-config of packaging/agent.toml"
# Every key the agent knows appears in the example (set or commented out).
for key in url director_url server_cert_path client_cert_path client_key_path namespace \
  http_timeout ssh_private_key_path local_tuf_repo_path poll_timeout validation_poll_timeout \
  unprivileged_user_group enable_dbus_client commands_dir commands_timeout sshd_path \
  config_dir host_key_path server_key_path shell host_port authorized_keys_path \
  dbus_bus long_poll_wait link_timeout reboot_command reboot_delay restart_service_command; do
  grep -qE "^#? ?$key = " "$PKG/agent.toml" || fail "packaging/agent.toml does not document '$key'"
done

trace "man page"
run groff -man -Tutf8 -ww "$PKG/porthole-agent.8"
expect_rc 0 "groff"
[ -z "$ERR" ] || fail "groff warnings: $ERR"
man_text=$(groff -man -Tascii -P-cbu "$PKG/porthole-agent.8")
for opt in --config --check-config check-policy status --system --version SIGTERM SIGUSR1 \
  SIGHUP PORTHOLE_LOG spawned_sshd embedded target_host unprivileged_user_group \
  dbus_bus long_poll_wait link_timeout reboot_command reboot_delay restart_service_command \
  X-Porthole-Extensions org.porthole.Agent.conf; do
  [[ $man_text == *"$opt"* ]] || fail "the man page does not mention $opt"
done

trace "D-Bus policy"
run xmllint --noout "$PKG/org.porthole.Agent.conf"
expect_rc 0 "xmllint org.porthole.Agent.conf"
grep -q '<allow own="org.porthole.Agent"/>' "$PKG/org.porthole.Agent.conf" ||
  fail "the policy does not let the agent own org.porthole.Agent"
pass
