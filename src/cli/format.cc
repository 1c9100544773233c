#include "cli/format.h"

#include "cli/table.h"
#include "core/keys/public_key.h"

namespace porthole::cli {
namespace {

std::string Or(const std::string& s, const char* dflt = "-") {
  return s.empty() ? dflt : s;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string CommandLine(const Command& c) {
  std::string out = c.name;
  for (const auto& a : c.args) out += " " + a;
  return out;
}

std::string Details(const Json& details) {
  if (details.is_null() || (details.is_object() && details.empty())) {
    return "";
  }
  auto text = tuf::DumpJson(details);
  return text.ok() ? *text : "";
}

}  // namespace

std::string KeySummary(const std::string& line) {
  std::string comment;
  auto k = keys::ParsePublicKeyLine(line, &comment);
  if (!k.ok()) return "(unparseable key)";
  std::string out = k->Fingerprint() + " (" + k->ShortTypeName() + ")";
  if (!comment.empty()) out += " " + comment;
  return out;
}

std::string DevicesTable(const std::vector<Device>& devices, SystemTime now,
                         bool show_removed) {
  std::vector<std::string> headers = {"NAME", "ID", "LAST SEEN", "SESSION",
                                      "TUNNEL"};
  if (show_removed) headers.push_back("REMOVED");
  Table t(headers);
  for (const auto& d : devices) {
    std::vector<std::string> row = {d.name, d.id, ShowTime(d.last_seen_at, now),
                                    d.session.value_or("-"),
                                    d.tunnel_up ? "up" : "-"};
    if (show_removed) row.push_back(ShowTime(d.removed_at, now));
    t.AddRow(std::move(row));
  }
  return t.Render();
}

std::string DeviceDetails(const Device& d, SystemTime now) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"name", d.name},
      {"id", d.id},
      {"created", ShowTime(d.created_at, now)},
      {"last seen", ShowTime(d.last_seen_at, now)},
  };
  if (d.removed_at) rows.emplace_back("removed", ShowTime(d.removed_at, now));
  rows.emplace_back("certificate until", ShowTime(d.cert_not_after, now));
  rows.emplace_back("ssh key", Or(d.ssh_key_fingerprint));
  if (d.host_keys.empty()) {
    rows.emplace_back("host keys", "- (not reported yet)");
  }
  for (const auto& hk : d.host_keys) {
    rows.emplace_back("host key", KeySummary(hk));
  }
  rows.emplace_back("session", d.session.value_or("-"));
  rows.emplace_back("tunnel", d.tunnel_up ? "up" : "down");
  return KeyValueLines(rows);
}

std::string SessionsTable(const std::vector<Session>& sessions,
                          SystemTime now) {
  Table t({"ID", "DEVICE", "STATE", "TUNNEL", "EXPIRES", "OPENED BY", "KEYS"});
  for (const auto& s : sessions) {
    t.AddRow({s.id, Or(s.device_name, s.device.c_str()), s.state,
              s.live() ? (s.tunnel_up ? "up" : "waiting") : "-",
              s.live() ? ShowTime(s.expires_at, now)
                       : "ended " + ShowTime(s.ended_at, now),
              Or(s.opened_by), std::to_string(s.operator_keys.size())});
  }
  return t.Render();
}

std::string SessionDetails(const Session& s, SystemTime now) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", s.id},
      {"device", Or(s.device_name) + " (" + Or(s.device) + ")"},
      {"state", s.state},
      {"tunnel",
       s.live() ? (s.tunnel_up ? "up" : "waiting for the device") : "-"},
      {"opened by", Or(s.opened_by)},
      {"created", ShowTime(s.created_at, now)},
      {"expires", ShowTime(s.expires_at, now)},
  };
  if (!s.live()) {
    rows.emplace_back("ended", ShowTime(s.ended_at, now));
    rows.emplace_back("reason", Or(s.end_reason));
  }
  for (const auto& k : s.operator_keys) {
    rows.emplace_back("operator key", KeySummary(k));
  }
  for (const auto& k : s.relay_keys) {
    rows.emplace_back("relay key", KeySummary(k));
  }
  if (s.relay) {
    rows.emplace_back("relay", s.relay->host + ":" +
                                   std::to_string(s.relay->port) + " " +
                                   KeySummary(s.relay->host_key));
  }
  rows.emplace_back("reverse port", std::to_string(s.reverse_port));
  return KeyValueLines(rows);
}

std::string CommandOutcome(const Command& c) {
  if (!c.result) return c.state == "done" ? "done" : Or(c.state);
  const CommandResult& r = *c.result;
  if (r.error) return "failed: " + *r.error;
  if (!r.success && r.exit_code == 0) return "failed";
  return "exit " + std::to_string(r.exit_code);
}

std::string CommandsTable(const std::vector<Command>& commands,
                          SystemTime now) {
  Table t({"ID", "DEVICE", "COMMAND", "RESULT", "CREATED", "BY"});
  for (const auto& c : commands) {
    t.AddRow({c.id, Or(c.device_name, c.device.c_str()), CommandLine(c),
              CommandOutcome(c), ShowTime(c.created_at, now),
              Or(c.created_by)});
  }
  return t.Render();
}

std::string CommandDetails(const Command& c, SystemTime now) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", c.id},
      {"device", Or(c.device_name) + " (" + Or(c.device) + ")"},
      {"command", CommandLine(c)},
      {"created", ShowTime(c.created_at, now) + " by " + Or(c.created_by)},
      {"state", c.state},
      {"result", CommandOutcome(c)},
  };
  if (!c.result) return KeyValueLines(rows);
  rows.emplace_back("finished", ShowTime(c.result->finished_at, now));
  std::string out = KeyValueLines(rows);
  // The device's output, each line indented (and made printable).
  for (const auto& [name, text] :
       {std::pair{"stdout", &c.result->stdout_text},
        std::pair{"stderr", &c.result->stderr_text}}) {
    if (text->empty()) continue;
    out += std::string(name) + ":\n";
    size_t pos = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      if (nl == std::string::npos) nl = text->size();
      out += "  " + Printable(text->substr(pos, nl - pos)) + "\n";
      pos = nl + 1;
    }
  }
  return out;
}

std::string AuditTable(const std::vector<AuditEvent>& events) {
  Table t({"SEQ", "AT", "KIND", "DEVICE", "SESSION", "ACTOR", "DETAILS"});
  for (const auto& e : events) {
    t.AddRow({std::to_string(e.seq), e.at, e.kind, Or(e.device), Or(e.session),
              Or(e.actor), Details(e.details)});
  }
  return t.Render();
}

std::string AuditLine(const AuditEvent& e) {
  std::vector<std::string> cells = {
      std::to_string(e.seq), e.at,          e.kind,
      Or(e.device),          Or(e.session), Or(e.actor),
      Details(e.details)};
  std::string out;
  for (const auto& c : cells) {
    if (c.empty()) continue;
    out += (out.empty() ? "" : "  ") + Printable(c);
  }
  return out + "\n";
}

std::string PolicyText(const PolicyStatus& p) {
  auto role = [](const PolicyStatus::Role& r) {
    return "version " + std::to_string(r.version) + ", expires " +
           r.expires.value_or("-") +
           (r.keys_online ? ", keys online" : ", keys OFFLINE");
  };
  std::string out = KeyValueLines({
      {"root", role(p.root)},
      {"remote-sessions", role(p.remote_sessions)},
      {"draft", p.draft_published
                    ? "published"
                    : "CHANGED, not published (sign it: porthole policy "
                      "export | porthole policy sign ...)"},
  });
  const PolicyView& v = p.published;
  out += "\nauthorized keys (published):\n";
  Table keys({"NAME", "KEY"});
  for (const auto& k : v.authorized_keys) {
    keys.AddRow({Or(k.name), KeySummary(k.pubkey)});
  }
  out += keys.Render();
  out += "\nrelay hosts: " + Printable(Join(v.ra_server_hosts, ", ")) + "\n";
  for (const auto& k : v.ra_server_ssh_pubkeys) {
    out += "relay host key: " + Printable(KeySummary(k)) + "\n";
  }
  out += "\nallowed commands:";
  if (!v.allowed_commands) {
    out += " none (remote commands are off)\n";
  } else if (v.allowed_commands->empty()) {
    out += " none\n";
  } else {
    out += "\n";
    Table cmds({"COMMAND", "ARGS"});
    for (const auto& [name, args] : *v.allowed_commands) {
      cmds.AddRow({name, Join(args, " ")});
    }
    out += cmds.Render();
  }
  return out;
}

}  // namespace porthole::cli
