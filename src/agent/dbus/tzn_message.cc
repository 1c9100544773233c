#include "agent/dbus/tzn_message.h"

#include <string>

#include "core/tuf/json.h"

namespace porthole::agent {

Status CheckTznMessage(std::string_view command, std::string_view args_json) {
  if (command != kPollRasNow) {
    return Status::InvalidArgument("unknown command '" + tuf::Excerpt(command) +
                                   "' (only " + std::string(kPollRasNow) +
                                   " is acted on)");
  }
  auto args = tuf::ParseJson(args_json);
  if (!args.ok()) {
    return Status::InvalidArgument(
        std::string(kPollRasNow) +
        " args are not JSON: " + args.error().message());
  }
  return Status::Ok();
}

}  // namespace porthole::agent
