#include "core/tuf/json.h"

#include <exception>
#include <utility>

namespace porthole::tuf {
namespace {

// Builds the DOM like nlohmann's own SAX DOM parser, with the checks the
// header promises. Returning false from a callback stops the parse.
class StrictSax {
 public:
  using number_integer_t = Json::number_integer_t;
  using number_unsigned_t = Json::number_unsigned_t;
  using number_float_t = Json::number_float_t;
  using string_t = Json::string_t;
  using binary_t = Json::binary_t;

  bool null() { return Add(Json(nullptr)) != nullptr; }
  bool boolean(bool v) { return Add(Json(v)) != nullptr; }
  bool number_integer(number_integer_t v) { return Add(Json(v)) != nullptr; }
  bool number_unsigned(number_unsigned_t v) { return Add(Json(v)) != nullptr; }
  bool number_float(number_float_t v, const string_t&) {
    return Add(Json(v)) != nullptr;
  }
  bool string(string_t& v) { return Add(Json(std::move(v))) != nullptr; }
  bool binary(binary_t&) {
    return Fail("binary values are not JSON");  // never from text input
  }
  bool start_object(std::size_t) { return Open(Json::object()); }
  bool start_array(std::size_t) { return Open(Json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }
  bool key(string_t& k) {
    if (stack_.back()->contains(k)) {
      return Fail("duplicate member '" + Excerpt(k) + "'");
    }
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& e) {
    std::string what = e.what();
    // Drop the "[json.exception.parse_error.101] " tag.
    if (size_t p = what.find("] ");
        what.rfind("[json.", 0) == 0 && p != std::string::npos) {
      what.erase(0, p + 2);
    }
    return Fail(what);
  }

  Json& root() { return root_; }
  const std::string& error() const { return error_; }

 private:
  Json* Add(Json v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    auto [it, inserted] =
        top.get_ref<Json::object_t&>().emplace(std::move(key_), std::move(v));
    return &it->second;
  }
  bool Open(Json container) {
    if (stack_.size() >= kMaxJsonDepth) {
      return Fail("nesting deeper than " + std::to_string(kMaxJsonDepth));
    }
    Json* p = Add(std::move(container));
    stack_.push_back(p);
    return true;
  }
  bool Close() {
    stack_.pop_back();
    return true;
  }
  bool Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
    return false;
  }

  Json root_;
  std::vector<Json*> stack_;
  std::string key_;
  std::string error_;
};

ErrorOr<std::string> Dump(const Json& value, int indent) {
  try {
    return value.dump(indent);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kMalformed,
                 std::string("cannot serialise JSON: ") + e.what());
  }
}

Error Missing(std::string_view where, const std::string& key) {
  return Error(ErrorCode::kMalformed,
               std::string(where) + ": missing member '" + key + "'");
}

Error Mistyped(std::string_view where, const std::string& key,
               std::string_view what) {
  return Error(ErrorCode::kMalformed, std::string(where) + ": member '" + key +
                                          "' must be " + std::string(what));
}

}  // namespace

ErrorOr<Json> ParseJson(std::string_view text) {
  StrictSax sax;
  bool ok = false;
  try {
    ok = Json::sax_parse(text.begin(), text.end(), &sax,
                         nlohmann::detail::input_format_t::json,
                         /*strict=*/true, /*ignore_comments=*/false);
  } catch (const std::exception& e) {
    return Error(ErrorCode::kNotJson, e.what());
  }
  if (!ok) {
    return Error(ErrorCode::kNotJson,
                 sax.error().empty() ? "not JSON" : sax.error());
  }
  return std::move(sax.root());
}

ErrorOr<std::string> DumpJson(const Json& value) { return Dump(value, -1); }

ErrorOr<std::string> DumpJsonPretty(const Json& value) {
  ErrorOr<std::string> text = Dump(value, 2);
  if (text.ok()) text->push_back('\n');
  return text;
}

const Json* FindMember(const Json& object, const std::string& key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

ErrorOr<const Json*> RequireObject(const Json& object, const std::string& key,
                                   std::string_view where) {
  const Json* v = FindMember(object, key);
  if (v == nullptr) return Missing(where, key);
  if (!v->is_object()) return Mistyped(where, key, "an object");
  return v;
}

ErrorOr<const Json*> RequireArray(const Json& object, const std::string& key,
                                  std::string_view where) {
  const Json* v = FindMember(object, key);
  if (v == nullptr) return Missing(where, key);
  if (!v->is_array()) return Mistyped(where, key, "an array");
  return v;
}

ErrorOr<std::string> RequireString(const Json& object, const std::string& key,
                                   std::string_view where) {
  const Json* v = FindMember(object, key);
  if (v == nullptr) return Missing(where, key);
  if (!v->is_string()) return Mistyped(where, key, "a string");
  return v->get_ref<const std::string&>();
}

Error RequireType(const Json& object, std::string_view want,
                  std::string_view where) {
  const Json* type = FindMember(object, "_type");
  if (type != nullptr && type->is_string() &&
      type->get_ref<const std::string&>() == want) {
    return Error();
  }
  std::string got = type == nullptr ? "missing"
                    : type->is_string()
                        ? "'" + Excerpt(type->get_ref<const std::string&>()) +
                              "'"
                        : "not a string";
  return Error(ErrorCode::kWrongType, std::string(where) + ": _type must be '" +
                                          std::string(want) + "' (" + got +
                                          ")");
}

ErrorOr<uint64_t> RequireUint(const Json& object, const std::string& key,
                              uint64_t min, std::string_view where) {
  const Json* v = FindMember(object, key);
  if (v == nullptr) return Missing(where, key);
  std::string what = "an integer >= " + std::to_string(min);
  // Parsed non-negative integers are number_unsigned; values built in code
  // from a signed type are number_integer.
  if (v->is_number_unsigned()) {
    uint64_t n = v->get<uint64_t>();
    if (n >= min) return n;
  } else if (v->is_number_integer() && v->get<int64_t>() >= 0) {
    uint64_t n = static_cast<uint64_t>(v->get<int64_t>());
    if (n >= min) return n;
  }
  return Mistyped(where, key, what);
}

ErrorOr<bool> RequireBool(const Json& object, const std::string& key,
                          std::string_view where) {
  const Json* v = FindMember(object, key);
  if (v == nullptr) return Missing(where, key);
  if (!v->is_boolean()) return Mistyped(where, key, "true or false");
  return v->get<bool>();
}

ErrorOr<std::vector<std::string>> RequireStringArray(const Json& object,
                                                     const std::string& key,
                                                     std::string_view where) {
  TUF_ASSIGN_OR_RETURN(const Json* array, RequireArray(object, key, where));
  std::vector<std::string> out;
  out.reserve(array->size());
  for (const Json& e : *array) {
    if (!e.is_string()) return Mistyped(where, key, "an array of strings");
    out.push_back(e.get_ref<const std::string&>());
  }
  return out;
}

std::string Excerpt(std::string_view bytes) {
  constexpr size_t kMax = 80;
  std::string out;
  for (char c : bytes) {
    if (c == '\n' || c == '\r' || out.size() >= kMax) break;
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x20 && u < 0x7f ? c : '?');
  }
  return out;
}

}  // namespace porthole::tuf
