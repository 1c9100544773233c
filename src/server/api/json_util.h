// Small helpers shared by the device and operator API handlers: JSON
// responses, RAC-style error bodies, strict request bodies.
#ifndef PORTHOLE_SERVER_API_JSON_UTIL_H_
#define PORTHOLE_SERVER_API_JSON_UTIL_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/status.h"
#include "core/tuf/json.h"
#include "server/api/http.h"

namespace porthole::server::api {

using Json = tuf::Json;

// What every command id starts with (PROTOCOL.md 3.3 C).
inline constexpr char kCommandPrefix[] = "urn:tdx-ota:command:";

// `status` with the compact JSON body.
Response JsonResponse(int status, const Json& body);
// {"code": code, "description": description} (RAC's RasError shape).
Response ErrorResponse(int status, std::string_view code,
                       std::string_view description);
// 405 method_not_allowed with an Allow header: `allow` lists the methods
// ("GET, POST").
Response MethodNotAllowed(const char* allow);
// A Status as an error response: kInvalidArgument 400 bad_request,
// kNotFound 404 not_found, kAlreadyExists / kFailedPrecondition 409
// conflict, kPermissionDenied 403 forbidden, else 500 internal (the
// message of an internal error is logged, not sent).
Response StatusResponse(const Status& status);

// RFC 3339 UTC, seconds: "2026-12-04T10:00:00Z"; null for nullopt.
std::string FormatTime(SystemTime t);
Json TimeOrNull(const std::optional<SystemTime>& t);

// The body as a JSON object whose members are all among `allowed`.
// kInvalidArgument naming the problem ("body: unknown member 'x'").
Result<Json> ParseObjectBody(std::string_view body,
                             std::initializer_list<std::string_view> allowed);

}  // namespace porthole::server::api

#endif  // PORTHOLE_SERVER_API_JSON_UTIL_H_
