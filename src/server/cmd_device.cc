#include "server/cmd_device.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/base/file.h"
#include "core/config/toml.h"
#include "core/crypto/random.h"
#include "core/crypto/x509.h"
#include "server/device_bundle.h"
#include "server/table.h"

namespace porthole::server {
namespace {

using std::chrono::hours;

constexpr auto kDeviceCertLifetime = hours(24 * 365 * 10);

std::string Absolute(const std::string& path) {
  return std::filesystem::absolute(path).lexically_normal().string();
}

Result<crypto::CertificateRequest> ReadCsr(const std::string& path) {
  auto text = ReadFile(path, crypto::kMaxPemBytes, true);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kCorrupt) {
      return Status::InvalidArgument(
          path + ": not a certificate request: larger than " +
          std::to_string(crypto::kMaxPemBytes) + " bytes");
    }
    return text.status();
  }
  auto req = crypto::ParseCertificateRequest(*text);
  if (!req.ok()) return req.status().Prefixed(path);
  return req;
}

std::string Describe(const Device& d) {
  return "'" + d.name + "' (" + d.id + ")";
}

}  // namespace

Result<DeviceAddResult> AddDeviceWithBundle(const ServerConfig& config,
                                            Store& store,
                                            const DeviceAddOptions& options,
                                            const Clock& clock) {
  // ---- everything that can be checked, before anything is written ----
  PH_RETURN_IF_ERROR(ValidateDeviceName(options.name));
  std::string device_dir =
      options.device_dir.empty() ? kDefaultDeviceDir : options.device_dir;
  PH_ASSIGN_OR_RETURN(config::AgentConfig agent,
                      MakeAgentConfig(config, device_dir));
  std::string out =
      Absolute(options.out_dir.empty() ? options.name : options.out_dir);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  struct stat st;
  if (lstat(out.c_str(), &st) == 0) {
    return Status::AlreadyExists(out +
                                 " already exists; not overwriting it (--out "
                                 "names another directory)");
  }
  std::optional<crypto::CertificateRequest> csr;
  if (!options.csr_file.empty()) {
    PH_ASSIGN_OR_RETURN(csr, ReadCsr(options.csr_file));
  }
  auto existing = store.FindDevice(options.name);
  if (existing.ok()) {
    return Status::AlreadyExists("device name '" + options.name +
                                 "' is already in use (by " + existing->id +
                                 ")");
  }
  if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }
  DataDir layout{config.data_dir};
  PH_ASSIGN_OR_RETURN(std::string ca_pem,
                      ReadFile(layout.DeviceCaCert(), crypto::kMaxPemBytes));
  PH_ASSIGN_OR_RETURN(std::string ca_key_pem,
                      ReadFile(layout.DeviceCaKey(), crypto::kMaxPemBytes));
  auto ca = crypto::CertificateAuthority::FromPem(ca_pem, ca_key_pem);
  if (!ca.ok()) {
    return Status(StatusCode::kCorrupt, layout.DeviceCaCert() + ", " +
                                            layout.DeviceCaKey() + ": " +
                                            ca.status().message());
  }
  PH_ASSIGN_OR_RETURN(std::string root_pem,
                      ReadFile(layout.ServerCaCert(), crypto::kMaxPemBytes));
  auto root = crypto::Certificate::FromPem(root_pem);
  if (!root.ok()) {
    return Status(StatusCode::kCorrupt,
                  layout.ServerCaCert() + ": " + root.status().message());
  }

  // ---- the certificate ----
  SystemTime now = std::chrono::floor<std::chrono::seconds>(clock.Now());
  Device device;
  device.id = crypto::RandomUuidV4();
  device.name = options.name;
  device.created_at = now;
  std::optional<crypto::SigningKey> key;
  std::string spki;
  if (csr) {
    spki = csr->public_key_spki;
  } else {
    key = crypto::SigningKey::GenerateEcdsaP256();
    spki = key->PublicSpkiDer();
  }
  PH_ASSIGN_OR_RETURN(crypto::Certificate cert,
                      crypto::IssueDeviceCertificate(
                          *ca, spki, device.id,
                          {now - kCertBackdate, now + kDeviceCertLifetime}));
  crypto::CertificateInfo info = cert.Info();
  device.cert_sha256 = info.sha256_hex;
  device.cert_serial = info.serial_hex;
  device.cert_not_after = info.not_after;

  // ---- the bundle, whole or not at all ----
  std::string tmpl = out + ".tmp-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return PosixError(out, errno);
  const std::string tmp = tmpl;
  RemoveOnExit remove_tmp(tmp);
  PH_RETURN_IF_ERROR(WriteFileMode(tmp + "/client.pem", cert.ToPem(), 0644));
  if (key) {
    PH_ASSIGN_OR_RETURN(std::string key_pem, key->ToPkcs8Pem());
    PH_RETURN_IF_ERROR(WriteFileMode(tmp + "/pkey.pem", key_pem, 0600));
  }
  PH_RETURN_IF_ERROR(WriteFileMode(tmp + "/root.crt", root->ToPem(), 0644));
  PH_RETURN_IF_ERROR(WriteFileMode(
      tmp + "/agent.toml", AgentTomlText(agent, device.name, device.id), 0644));
  if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, out.c_str(),
                RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY) {
      return Status::AlreadyExists(out +
                                   " already exists; not overwriting "
                                   "it");
    }
    return PosixError(out, errno);
  }
  remove_tmp.Release();
  RemoveOnExit remove_out(out);

  // ---- the record ----
  PH_RETURN_IF_ERROR(store.AddDevice(device));
  remove_out.Release();
  nlohmann::json details = {{"name", device.name},
                            {"cert_sha256", device.cert_sha256},
                            {"csr", csr.has_value()}};
  (void)store.AppendAudit({.at = now,
                           .kind = "device.add",
                           .device_id = device.id,
                           .actor = "admin",
                           .details_json = details.dump()});
  return DeviceAddResult{device, out, key.has_value()};
}

nlohmann::json DeviceJson(const Device& d) {
  auto time = [](const std::optional<SystemTime>& t) -> nlohmann::json {
    if (!t) return nullptr;
    return FormatTime(*t);
  };
  return {{"id", d.id},
          {"name", d.name},
          {"state", d.removed() ? "removed" : "active"},
          {"created_at", FormatTime(d.created_at)},
          {"removed_at", time(d.removed_at)},
          {"last_seen_at", time(d.last_seen_at)},
          {"cert_sha256", d.cert_sha256},
          {"cert_serial", d.cert_serial},
          {"cert_not_after", FormatTime(d.cert_not_after)},
          {"ssh_key", d.ssh_key.empty() ? nlohmann::json(nullptr)
                                        : nlohmann::json(d.ssh_key)},
          {"ssh_key_at", time(d.ssh_key_at)},
          {"host_keys", d.host_keys}};
}

namespace {

struct DeviceArgs {
  DeviceAddOptions add;
  std::string target;  // show, remove
  bool json = false;
  bool all = false;
};

int RunAdd(const GlobalOptions& global, const DeviceArgs& a) {
  // A bad name is a usage error whatever the configuration says.
  Status name = ValidateDeviceName(a.add.name);
  if (!name.ok()) return Fail(name);
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  auto r = AddDeviceWithBundle(*config, **store, a.add);
  if (!r.ok()) return Fail(r.status());
  std::string text = "Added device " + r->device.name + " (" + r->device.id +
                     ").\nBundle: " + r->out_dir +
                     (r->wrote_key ? "/{client.pem,pkey.pem,root.crt,"
                                     "agent.toml}\n"
                                   : "/{client.pem,root.crt,agent.toml}\n");
  std::string dir =
      a.add.device_dir.empty() ? kDefaultDeviceDir : a.add.device_dir;
  text += r->wrote_key
              ? "Copy its files to " + dir +
                    " on the device (pkey.pem is secret: keep it 0600).\n"
              : "Copy its files to " + dir +
                    " on the device, next to the pkey.pem that made the "
                    "request.\n";
  Print(text);
  return 0;
}

int RunList(const GlobalOptions& global, const DeviceArgs& a) {
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  auto devices = (*store)->ListDevices(a.all);
  if (!devices.ok()) return Fail(devices.status());
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const Device& d : *devices) arr.push_back(DeviceJson(d));
    Print(arr.dump(2) + "\n");
    return 0;
  }
  Table t({"NAME", "ID", "LAST SEEN", "CERT EXPIRES", "CREATED"});
  if (a.all) t.AddColumn("REMOVED");
  for (const Device& d : *devices) {
    std::vector<std::string> row = {d.name, d.id, FormatTime(d.last_seen_at),
                                    FormatTime(d.cert_not_after),
                                    FormatTime(d.created_at)};
    if (a.all) row.push_back(FormatTime(d.removed_at));
    t.AddRow(std::move(row));
  }
  Print(t.ToString());
  return 0;
}

int RunShow(const GlobalOptions& global, const DeviceArgs& a) {
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  auto d = (*store)->FindDevice(a.target);
  if (!d.ok()) return Fail(d.status());
  SystemTime now = Clock::Real().Now();
  auto live = (*store)->LiveSessionOfDevice(d->id, now);
  if (!live.ok()) return Fail(live.status());
  if (a.json) {
    nlohmann::json j = DeviceJson(*d);
    j["live_session"] = nullptr;
    if (*live) {
      const Session& s = **live;
      j["live_session"] = {{"id", s.id},
                           {"reverse_port", s.reverse_port},
                           {"opened_by", s.opened_by},
                           {"expires_at", FormatTime(s.expires_at)},
                           {"tunnel_up", s.tunnel_up}};
    }
    Print(j.dump(2) + "\n");
    return 0;
  }
  std::string text;
  auto line = [&](const char* k, const std::string& v) {
    text += std::string(k) + std::string(14 - std::strlen(k), ' ') + v + "\n";
  };
  line("name:", d->name);
  line("id:", d->id);
  line("state:", d->removed() ? "removed " + FormatTime(d->removed_at)
                              : std::string("active"));
  line("created:", FormatTime(d->created_at));
  line("last seen:", d->last_seen_at ? FormatTime(d->last_seen_at) : "never");
  line("certificate:", "SHA-256 " + d->cert_sha256);
  line("", "serial " + d->cert_serial + ", expires " +
               FormatTime(d->cert_not_after));
  line("ssh key:", d->ssh_key.empty()
                       ? std::string("none registered yet")
                       : config::PrintableText(d->ssh_key, 400) + " (since " +
                             FormatTime(d->ssh_key_at) + ")");
  line("host keys:", std::to_string(d->host_keys.size()));
  if (*live) {
    const Session& s = **live;
    line("session:", s.id + ", port " + std::to_string(s.reverse_port) +
                         ", by " + s.opened_by + ", until " +
                         FormatTime(s.expires_at) +
                         (s.tunnel_up ? ", tunnel up" : ""));
  } else {
    line("session:", "none");
  }
  Print(text);
  return 0;
}

int RunRemove(const GlobalOptions& global, const DeviceArgs& a) {
  auto config = LoadConfig(global);
  if (!config.ok()) return Fail(config.status());
  auto store = OpenStore(*config);
  if (!store.ok()) return Fail(store.status());
  auto d = (*store)->FindDevice(a.target);
  if (!d.ok()) return Fail(d.status());
  SystemTime now = Clock::Real().Now();
  auto live = (*store)->LiveSessionOfDevice(d->id, now);
  if (!live.ok()) return Fail(live.status());
  Status s = (*store)->RemoveDevice(d->id, now);
  if (!s.ok()) return Fail(s);
  (void)(*store)->AppendAudit(
      {.at = now,
       .kind = "device.remove",
       .device_id = d->id,
       .actor = "admin",
       .details_json = nlohmann::json{{"name", d->name}}.dump()});
  std::string text = "Removed device " + Describe(*d) +
                     ": its certificate is refused from now on.\n";
  if (*live) text += "Its session " + (*live)->id + " has ended.\n";
  Print(text);
  return 0;
}

}  // namespace

CommandAction SetupDevice(CLI::App* sub, const GlobalOptions* global) {
  auto a = std::make_shared<DeviceArgs>();
  sub->require_subcommand(1);
  CLI::App* add = sub->add_subcommand("add",
                                      "add a device and write its "
                                      "bundle directory");
  add->add_option("NAME", a->add.name,
                  "the device's name: letters, digits, '.', '_', '-'")
      ->required();
  add->add_option("--csr", a->add.csr_file,
                  "sign this PKCS#10 request (PEM) made on the device "
                  "instead of generating a key")
      ->option_text("FILE");
  add->add_option("--out", a->add.out_dir,
                  "the bundle directory to create (default ./NAME)")
      ->option_text("DIR");
  add->add_option("--device-dir", a->add.device_dir,
                  "where the bundle's files will live on the device "
                  "(default /etc/porthole)")
      ->option_text("PATH");

  CLI::App* list = sub->add_subcommand("list", "list devices");
  list->add_flag("--json", a->json, "a JSON array");
  list->add_flag("--all", a->all, "include removed devices");

  CLI::App* show = sub->add_subcommand("show", "show one device");
  show->add_option("DEVICE", a->target, "name or UUID")->required();
  show->add_flag("--json", a->json, "a JSON object");

  CLI::App* remove = sub->add_subcommand(
      "remove", "remove a device: its certificate is refused at once");
  remove->add_option("DEVICE", a->target, "name or UUID")->required();

  return [=]() -> int {
    if (*add) return RunAdd(*global, *a);
    if (*list) return RunList(*global, *a);
    if (*show) return RunShow(*global, *a);
    return RunRemove(*global, *a);
  };
}

}  // namespace porthole::server
