// Fuzzes httpd's request reading (Boost.Beast's parser plus httpd's own
// header and target rules) the way a connection feeds it: the input is cut
// into pieces whose sizes come from the first bytes, and the body limit is
// chosen by the input too. Checks the invariants a connection relies on.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/httpd/request_reader.h"
#include "core/httpd/wire.h"

using porthole::httpd::RequestReader;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  size_t step = data[0] % 17;  // 0: everything at once
  uint64_t body_limit = static_cast<uint64_t>(data[1]) * 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

  RequestReader reader(512);
  std::string buffered;
  size_t offered = 0;
  while (reader.state() == RequestReader::State::kNeedMore ||
         reader.state() == RequestReader::State::kHeaderDone) {
    if (reader.state() == RequestReader::State::kHeaderDone) {
      if (reader.method().empty() || reader.path().empty() ||
          reader.path()[0] != '/') {
        std::abort();  // a header is only done with a usable request line
      }
      reader.StartBody(body_limit);
      continue;
    }
    size_t take = step == 0 ? input.size() - offered
                            : std::min(step, input.size() - offered);
    buffered.append(input.substr(offered, take));
    offered += take;
    size_t used = reader.Feed(buffered);
    if (used > buffered.size()) std::abort();
    buffered.erase(0, used);
    if (take == 0 && used == 0) break;
  }
  switch (reader.state()) {
    case RequestReader::State::kComplete: {
      porthole::httpd::Request r = reader.TakeRequest();
      if (r.body.size() > body_limit) std::abort();
      if (r.version != 10 && r.version != 11) std::abort();
      for (const auto& [name, value] : r.headers) {
        for (char c : name) {
          if (c >= 'A' && c <= 'Z') std::abort();  // names are lower case
        }
      }
      break;
    }
    case RequestReader::State::kError: {
      int s = reader.error_status();
      if (s != 400 && s != 413 && s != 417 && s != 431 && s != 501) {
        std::abort();
      }
      // The error response is well-formed whatever the reason says.
      auto resp = porthole::httpd::ErrorResponse(s, reader.error_reason());
      if (!porthole::httpd::CheckResponse(resp).empty()) std::abort();
      break;
    }
    default:
      break;
  }
  return 0;
}
