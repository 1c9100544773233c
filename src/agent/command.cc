#include "agent/command.h"

#include <chrono>
#include <cstdio>
#include <limits>

#include "core/config/agent_config.h"
#include "core/tuf/rfc3339.h"

namespace porthole::agent {
namespace {

// --- Writing JSON the way serde_json does -------------------------------

void AppendString(std::string_view raw, std::string* out) {
  // Never emit invalid UTF-8, whatever the caller captured.
  std::string text = LossyUtf8(raw);
  out->push_back('"');
  // serde_json's escapes: the short ones, then \u00XX for other controls.
  static constexpr std::string_view kRaw = "\"\\\b\f\n\r\t";
  static constexpr std::string_view kEscaped = "\"\\bfnrt";
  for (char c : text) {
    if (size_t k = kRaw.find(c); k != std::string_view::npos) {
      out->push_back('\\');
      out->push_back(kEscaped[k]);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      *out += buf;
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// `indent` < 0: compact; else pretty at that depth (two spaces a level).
void NewLine(int indent, std::string* out) {
  if (indent < 0) return;
  out->push_back('\n');
  out->append(static_cast<size_t>(indent) * 2, ' ');
}

// Writes "key": (pretty) or "key": (compact) after the separator.
void AppendKey(std::string_view key, bool first, int indent, std::string* out) {
  if (!first) out->push_back(',');
  NewLine(indent, out);
  AppendString(key, out);
  *out += indent < 0 ? ":" : ": ";
}

int Deeper(int indent) { return indent < 0 ? indent : indent + 1; }

void AppendValue(const tuf::Json& v, int indent, std::string* out) {
  switch (v.type()) {
    case tuf::Json::value_t::null:
      *out += "null";
      return;
    case tuf::Json::value_t::boolean:
      *out += v.get<bool>() ? "true" : "false";
      return;
    case tuf::Json::value_t::number_integer:
      *out += std::to_string(v.get<int64_t>());
      return;
    case tuf::Json::value_t::number_unsigned:
      *out += std::to_string(v.get<uint64_t>());
      return;
    case tuf::Json::value_t::number_float:
      // Only in adopted records, never in what porthole makes. nlohmann's
      // shortest round-trip form; serde's ryu may spell exponents
      // differently.
      *out += v.dump();
      return;
    case tuf::Json::value_t::string:
      AppendString(v.get_ref<const std::string&>(), out);
      return;
    case tuf::Json::value_t::array: {
      if (v.empty()) {
        *out += "[]";
        return;
      }
      out->push_back('[');
      bool first = true;
      for (const tuf::Json& e : v) {
        if (!first) out->push_back(',');
        first = false;
        NewLine(Deeper(indent), out);
        AppendValue(e, Deeper(indent), out);
      }
      NewLine(indent, out);
      out->push_back(']');
      return;
    }
    case tuf::Json::value_t::object: {
      if (v.empty()) {
        *out += "{}";
        return;
      }
      // nlohmann::json keeps members sorted by key bytes, as serde_json's
      // BTreeMap does.
      out->push_back('{');
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        AppendKey(it.key(), first, Deeper(indent), out);
        first = false;
        AppendValue(it.value(), Deeper(indent), out);
      }
      NewLine(indent, out);
      out->push_back('}');
      return;
    }
    default:  // binary and discarded values never come from text
      *out += "null";
  }
}

void AppendResult(const CommandResult& r, int indent, std::string* out) {
  const int in = Deeper(indent);
  out->push_back('{');
  AppendKey("success", true, in, out);
  *out += r.success ? "true" : "false";
  AppendKey("stdout", false, in, out);
  AppendString(r.stdout_text, out);
  AppendKey("stderr", false, in, out);
  AppendString(r.stderr_text, out);
  AppendKey("error", false, in, out);
  AppendValue(r.error, in, out);
  AppendKey("exit_code", false, in, out);
  *out += r.exit_code ? std::to_string(*r.exit_code) : "null";
  AppendKey("finished_at", false, in, out);
  AppendString(FormatTimestamp(r.finished_at), out);
  NewLine(indent, out);
  out->push_back('}');
}

// --- Reading ------------------------------------------------------------

Status Bad(std::string_view where, std::string_view why) {
  return Status::Corrupt(std::string(where) + ": " + std::string(why));
}

const tuf::Json* Member(const tuf::Json& object, const char* key) {
  return tuf::FindMember(object, key);
}

Result<std::string> StringMember(const tuf::Json& object, const char* key,
                                 std::string_view where) {
  const tuf::Json* v = Member(object, key);
  if (v == nullptr) return Bad(where, std::string("missing '") + key + "'");
  if (!v->is_string()) {
    return Bad(where, std::string("'") + key + "' must be a string");
  }
  return v->get<std::string>();
}

Result<SystemTime> TimeMember(const tuf::Json& object, const char* key,
                              std::string_view where) {
  PH_ASSIGN_OR_RETURN(std::string text, StringMember(object, key, where));
  Result<SystemTime> t = tuf::ParseRfc3339(text);
  if (!t.ok()) {
    return Bad(where, std::string("'") + key + "': " + t.status().message());
  }
  return *t;
}

// A member the Rust side reads as Option<T>: missing and null are the same.
const tuf::Json* OptionalMember(const tuf::Json& object, const char* key) {
  const tuf::Json* v = Member(object, key);
  return (v == nullptr || v->is_null()) ? nullptr : v;
}

Result<CommandResult> ParseResult(const tuf::Json& v, std::string_view where) {
  if (!v.is_object()) return Bad(where, "must be an object");
  CommandResult r;
  const tuf::Json* success = Member(v, "success");
  if (success == nullptr || !success->is_boolean()) {
    return Bad(where, "'success' must be true or false");
  }
  r.success = success->get<bool>();
  PH_ASSIGN_OR_RETURN(r.stdout_text, StringMember(v, "stdout", where));
  PH_ASSIGN_OR_RETURN(r.stderr_text, StringMember(v, "stderr", where));
  if (const tuf::Json* e = OptionalMember(v, "error")) r.error = *e;
  if (const tuf::Json* code = OptionalMember(v, "exit_code")) {
    bool fits = (code->is_number_integer() &&
                 code->get<int64_t>() >= std::numeric_limits<int32_t>::min() &&
                 code->get<int64_t>() <= std::numeric_limits<int32_t>::max()) ||
                (code->is_number_unsigned() &&
                 code->get<uint64_t>() <= std::numeric_limits<int32_t>::max());
    if (!fits) return Bad(where, "'exit_code' must be a 32-bit integer");
    r.exit_code = static_cast<int32_t>(code->get<int64_t>());
  }
  PH_ASSIGN_OR_RETURN(r.finished_at, TimeMember(v, "finished_at", where));
  return r;
}

// The members of a command other than its id; "" when all are well-formed.
std::string ParseCommandBody(const tuf::Json& v, Command* command) {
  const tuf::Json* name = Member(v, "name");
  if (name == nullptr || !name->is_string()) return "'name' must be a string";
  command->name = name->get<std::string>();
  const tuf::Json* args = Member(v, "args");
  if (args == nullptr || !args->is_array()) {
    return "'args' must be an array of strings";
  }
  for (const tuf::Json& a : *args) {
    if (!a.is_string()) return "'args' must be an array of strings";
    command->args.push_back(a.get<std::string>());
  }
  const tuf::Json* created = Member(v, "created_at");
  if (created == nullptr || !created->is_string()) {
    return "'created_at' must be a string";
  }
  Result<SystemTime> t = tuf::ParseRfc3339(created->get<std::string>());
  if (!t.ok()) return "'created_at': " + t.status().message();
  command->created_at = *t;
  return "";
}

// Rust's char::is_whitespace, for the code points that end `text`.
bool IsWhitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
         cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

}  // namespace

Result<std::string> ParseCommandId(std::string_view text) {
  if (text.substr(0, kCommandIdPrefix.size()) != kCommandIdPrefix) {
    return Status::InvalidArgument(
        "command id must have the form urn:tdx-ota:command:<uuid>");
  }
  Result<std::string> uuid =
      config::ParseUuid(text.substr(kCommandIdPrefix.size()));
  if (!uuid.ok()) {
    return Status::InvalidArgument("command id: " + uuid.status().message());
  }
  return std::string(kCommandIdPrefix) + *uuid;
}

Result<std::optional<ReceivedCommand>> ParseCommandsResponse(
    std::string_view body) {
  constexpr std::string_view kWhere = "GET commands";
  tuf::ErrorOr<tuf::Json> doc = tuf::ParseJson(body);
  if (!doc.ok()) return Bad(kWhere, doc.error().message());
  if (!doc->is_object()) return Bad(kWhere, "body must be a JSON object");
  const tuf::Json* values = Member(*doc, "values");
  if (values == nullptr || !values->is_array()) {
    return Bad(kWhere, "'values' must be an array");
  }
  if (values->empty()) return std::optional<ReceivedCommand>();
  const tuf::Json& first = values->front();
  if (!first.is_object()) return Bad(kWhere, "values[0] must be an object");
  PH_ASSIGN_OR_RETURN(std::string id,
                      StringMember(first, "id", "GET commands: values[0]"));
  Result<std::string> canonical = ParseCommandId(id);
  if (!canonical.ok()) {
    return Bad(kWhere, "values[0]: " + canonical.status().message());
  }
  ReceivedCommand received;
  received.id = *canonical;
  Command command;
  command.id = *canonical;
  received.defect = ParseCommandBody(first, &command);
  if (received.defect.empty()) received.command = std::move(command);
  return std::optional<ReceivedCommand>(std::move(received));
}

CommandResult RejectedResult(const std::vector<std::string>& reasons,
                             SystemTime now) {
  CommandResult r;
  r.success = false;
  r.error = tuf::Json::object();
  r.error["message"] = std::string(kInvalidCommandMessage);
  r.error["validation_result"]["InvalidUptaneMetadata"] = reasons;
  r.finished_at = now;
  return r;
}

CommandResult UnknownOutcomeResult(SystemTime now) {
  CommandResult r;
  r.success = false;
  r.stdout_text = "unknown";
  r.stderr_text = "unknown";
  r.error = std::string(kNoOutputAvailable);
  r.finished_at = now;
  return r;
}

CommandResult ExecutionErrorResult(std::string_view reason, SystemTime now) {
  CommandResult r;
  r.success = false;
  r.error = std::string(reason);
  r.finished_at = now;
  return r;
}

std::string FormatCommandResult(const CommandResult& result) {
  std::string out;
  AppendResult(result, -1, &out);
  return out;
}

std::string FormatTimestamp(SystemTime time) {
  // Integer arithmetic only: SystemTime's nanosecond ticks reach just
  // 1677..2262, and a whole-second time_point near those ends does not fit
  // them (ParseRfc3339 saturates there).
  constexpr long long kBillion = 1000000000;
  long long ticks = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        time.time_since_epoch())
                        .count();
  long long secs = ticks / kBillion, ns = ticks % kBillion;
  if (ns < 0) {
    ns += kBillion;
    --secs;
  }
  std::chrono::sys_seconds t{std::chrono::seconds(secs)};
  auto day = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day ymd{day};
  long long in_day = (t - day).count();
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lld",
                        static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()),
                        static_cast<unsigned>(ymd.day()), in_day / 3600,
                        in_day / 60 % 60, in_day % 60);
  std::string out(buf, static_cast<size_t>(n));
  // chrono's AutoSi: the fewest of 0, 3, 6 or 9 digits that are exact.
  if (ns != 0) {
    if (ns % 1000000 == 0) {
      n = std::snprintf(buf, sizeof buf, ".%03lld", ns / 1000000);
    } else if (ns % 1000 == 0) {
      n = std::snprintf(buf, sizeof buf, ".%06lld", ns / 1000);
    } else {
      n = std::snprintf(buf, sizeof buf, ".%09lld", ns);
    }
    out.append(buf, static_cast<size_t>(n));
  }
  return out + "Z";
}

std::string FormatPendingRecord(const PendingRecord& record) {
  std::string out = "{";
  AppendKey("cmd_id", true, 1, &out);
  AppendString(record.id, &out);
  AppendKey("output", false, 1, &out);
  AppendResult(record.output, 1, &out);
  AppendKey("error", false, 1, &out);
  if (record.error) {
    AppendString(*record.error, &out);
  } else {
    out += "null";
  }
  out += "\n}";
  return out;
}

Result<PendingRecord> ParsePendingRecord(std::string_view text) {
  constexpr std::string_view kWhere = "pending record";
  tuf::ErrorOr<tuf::Json> doc = tuf::ParseJson(text);
  if (!doc.ok()) return Bad(kWhere, doc.error().message());
  if (!doc->is_object()) return Bad(kWhere, "must be a JSON object");
  PendingRecord record;
  PH_ASSIGN_OR_RETURN(std::string id, StringMember(*doc, "cmd_id", kWhere));
  Result<std::string> canonical = ParseCommandId(id);
  if (!canonical.ok()) return Bad(kWhere, canonical.status().message());
  record.id = *canonical;
  const tuf::Json* output = Member(*doc, "output");
  if (output == nullptr) return Bad(kWhere, "missing 'output'");
  PH_ASSIGN_OR_RETURN(record.output,
                      ParseResult(*output, "pending record: output"));
  if (const tuf::Json* e = OptionalMember(*doc, "error")) {
    if (!e->is_string()) return Bad(kWhere, "'error' must be a string");
    record.error = e->get<std::string>();
  }
  return record;
}

std::optional<RasError> ParseRasError(std::string_view body) {
  tuf::ErrorOr<tuf::Json> doc = tuf::ParseJson(body);
  if (!doc.ok() || !doc->is_object()) return std::nullopt;
  const tuf::Json* code = Member(*doc, "code");
  const tuf::Json* description = Member(*doc, "description");
  if (code == nullptr || !code->is_string() || description == nullptr ||
      !description->is_string()) {
    return std::nullopt;
  }
  return RasError{code->get<std::string>(), description->get<std::string>()};
}

std::string LossyUtf8(std::string_view bytes) {
  static constexpr char kReplacement[] = "\xef\xbf\xbd";
  std::string out;
  out.reserve(bytes.size());
  const size_t n = bytes.size();
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  while (i < n) {
    unsigned char c = at(i);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // The sequence length and the range of its second byte (Unicode 3.9,
    // table 3-7); the third and fourth are always 80..BF.
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
    } else if (c == 0xe0) {
      len = 3;
      lo = 0xa0;
    } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
      len = 3;
    } else if (c == 0xed) {
      len = 3;
      hi = 0x9f;
    } else if (c == 0xf0) {
      len = 4;
      lo = 0x90;
    } else if (c >= 0xf1 && c <= 0xf3) {
      len = 4;
    } else if (c == 0xf4) {
      len = 4;
      hi = 0x8f;
    }
    // The maximal prefix of a valid sequence starting here.
    size_t good = 1;
    if (len != 0) {
      while (good < len && i + good < n) {
        unsigned char cc = at(i + good);
        bool ok =
            good == 1 ? (cc >= lo && cc <= hi) : (cc >= 0x80 && cc <= 0xbf);
        if (!ok) break;
        ++good;
      }
    }
    if (len != 0 && good == len) {
      out.append(bytes.substr(i, len));
    } else {
      out += kReplacement;
    }
    i += good;
  }
  return out;
}

std::string CapOutput(std::string_view bytes, bool more) {
  std::string text = LossyUtf8(bytes);
  if (!more && text.size() <= kMaxOutputBytes) return text;
  size_t cut = kMaxOutputBytes - kTruncationMarker.size();
  if (cut < text.size()) {
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) {
      --cut;
    }
    text.resize(cut);
  }
  text += kTruncationMarker;
  return text;
}

std::string TrimEndWhitespace(std::string text) {
  for (;;) {
    size_t start = text.size();
    while (start > 0 &&
           (static_cast<unsigned char>(text[start - 1]) & 0xc0) == 0x80) {
      --start;
    }
    if (start == 0) return text;
    --start;
    uint32_t cp = static_cast<unsigned char>(text[start]);
    size_t len = text.size() - start;
    if (len > 1) cp &= 0xff >> (len + 1);
    for (size_t k = start + 1; k < text.size(); ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(text[k]) & 0x3f);
    }
    if (!IsWhitespace(cp)) return text;
    text.resize(start);
  }
}

}  // namespace porthole::agent
