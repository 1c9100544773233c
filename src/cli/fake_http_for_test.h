// A scripted HttpClient for tests of the operator API callers: answers are
// queued per "METHOD URL-PATH" (query included; without an exact match, the
// path without its query), each used once (the last one repeats); every
// request is recorded. Tests only.
#ifndef PORTHOLE_CLI_FAKE_HTTP_FOR_TEST_H_
#define PORTHOLE_CLI_FAKE_HTTP_FOR_TEST_H_

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli/api_client.h"
#include "core/http/http_client.h"

namespace porthole::cli {

inline constexpr char kFakeBase[] = "https://ph.test:8444";

class FakeHttp : public http::HttpClient {
 public:
  struct Script {
    std::map<std::string, std::deque<http::HttpResponse>> answers;
    std::vector<http::HttpRequest> requests;
  };

  explicit FakeHttp(std::shared_ptr<Script> script)
      : script_(std::move(script)) {}

  Result<http::HttpResponse> Send(const http::HttpRequest& r) override {
    script_->requests.push_back(r);
    std::string path = r.url.substr(std::string(kFakeBase).size());
    auto it = script_->answers.find(r.method + " " + path);
    if (it == script_->answers.end()) {
      it = script_->answers.find(r.method + " " +
                                 path.substr(0, path.find('?')));
    }
    if (it == script_->answers.end() || it->second.empty()) {
      return http::HttpResponse{
          404,
          R"({"code":"not_found","description":"no script for )" + r.method +
              " " + path + "\"}",
          {}};
    }
    http::HttpResponse resp = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    return resp;
  }

 private:
  std::shared_ptr<Script> script_;
};

// An OperatorApi over a fresh script.
struct FakeApi {
  std::shared_ptr<FakeHttp::Script> script =
      std::make_shared<FakeHttp::Script>();
  OperatorApi api{std::make_unique<FakeHttp>(script), kFakeBase, "tok-1"};

  void On(const std::string& method_path, long status, const std::string& body,
          const std::string& etag = "") {
    http::HttpResponse r{status, body, {}};
    if (!etag.empty()) r.headers.emplace_back("etag", "\"" + etag + "\"");
    script->answers[method_path].push_back(std::move(r));
  }
  // "METHOD PATH" of every request, in order.
  std::vector<std::string> Calls() const {
    std::vector<std::string> out;
    for (const auto& r : script->requests) {
      out.push_back(r.method + " " +
                    r.url.substr(std::string(kFakeBase).size()));
    }
    return out;
  }
};

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_FAKE_HTTP_FOR_TEST_H_
