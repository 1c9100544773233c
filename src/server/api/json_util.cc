#include "server/api/json_util.h"

#include <spdlog/spdlog.h>

#include "core/base/utf8.h"
#include "core/tuf/rfc3339.h"

namespace porthole::server::api {

Response JsonResponse(int status, const Json& body) {
  Response r;
  r.status = status;
  tuf::ErrorOr<std::string> text = tuf::DumpJson(body);
  if (!text.ok()) {
    spdlog::error("response: {}", text.error().message());
    r.status = 500;
    r.body = R"({"code":"internal","description":"response encoding"})";
  } else {
    r.body = std::move(*text);
  }
  r.SetHeader("Content-Type", "application/json");
  return r;
}

Response ErrorResponse(int status, std::string_view code,
                       std::string_view description) {
  // Descriptions may quote what a client sent; keep the body valid JSON.
  std::string text(description);
  if (!IsValidUtf8(text)) {
    for (char& c : text) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  return JsonResponse(status, Json{{"code", std::string(code)},
                                   {"description", std::move(text)}});
}

Response MethodNotAllowed(const char* allow) {
  Response r =
      ErrorResponse(405, "method_not_allowed", std::string("use ") + allow);
  r.SetHeader("Allow", allow);
  return r;
}

Response StatusResponse(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(400, "bad_request", status.message());
    case StatusCode::kNotFound:
      return ErrorResponse(404, "not_found", status.message());
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return ErrorResponse(409, "conflict", status.message());
    case StatusCode::kPermissionDenied:
      return ErrorResponse(403, "forbidden", status.message());
    case StatusCode::kUnavailable:
      return ErrorResponse(503, "unavailable", status.message());
    default:
      spdlog::error("api: {}", status.message());
      return ErrorResponse(500, "internal", "internal error (see server log)");
  }
}

std::string FormatTime(SystemTime t) {
  return tuf::FormatRfc3339(
      std::chrono::time_point_cast<std::chrono::seconds>(t));
}

Json TimeOrNull(const std::optional<SystemTime>& t) {
  return t ? Json(FormatTime(*t)) : Json(nullptr);
}

Result<Json> ParseObjectBody(std::string_view body,
                             std::initializer_list<std::string_view> allowed) {
  tuf::ErrorOr<Json> json = tuf::ParseJson(body);
  if (!json.ok()) {
    return Status::InvalidArgument("body: " + json.error().message());
  }
  if (!json->is_object()) {
    return Status::InvalidArgument("body: not a JSON object");
  }
  for (const auto& [key, value] : json->items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      return Status::InvalidArgument("body: unknown member '" +
                                     tuf::Excerpt(key) + "'");
    }
  }
  return std::move(*json);
}

}  // namespace porthole::server::api
