// The only file that includes <curl/curl.h>.
#include <curl/curl.h>

#include <poll.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "core/base/file.h"
#include "core/crypto/signature.h"
#include "core/http/http_client.h"

namespace porthole::http {

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};

bool AnyReadable(const std::vector<int>& fds) {
  std::vector<pollfd> p;
  for (int fd : fds) p.push_back({fd, POLLIN, 0});
  return !p.empty() && poll(p.data(), p.size(), 0) > 0;
}

struct Transfer {
  HttpResponse* response;
  size_t max_body;
  bool too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t len = size * n;
  if (t->response->body.size() + len > t->max_body) {
    t->too_large = true;
    return 0;  // aborts the transfer
  }
  t->response->body.append(data, len);
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.starts_with("HTTP/")) {
    t->response->headers.clear();  // a new response (e.g. after 100)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' ||
                            value.back() == ' ')) {
    value.remove_suffix(1);
  }
  t->response->headers.emplace_back(std::move(name), std::string(value));
  return size * n;
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
             std::string_view::npos;
}

// A header that cannot smuggle a second header or a second request.
Status CheckHeader(const std::string& name, const std::string& value) {
  if (name.empty() ||
      !std::all_of(name.begin(), name.end(),
                   [](unsigned char c) { return IsTokenChar(c); })) {
    return Status::InvalidArgument("bad HTTP header name '" + name + "'");
  }
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return Status::InvalidArgument("HTTP header " + name +
                                     ": control character in the value");
    }
  }
  return Status::Ok();
}

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

class CurlHttpClient : public HttpClient {
 public:
  CurlHttpClient(TlsClientConfig config, std::unique_ptr<CURL, CurlDeleter> h,
                 std::unique_ptr<CURLM, MultiDeleter> m)
      : config_(std::move(config)),
        handle_(std::move(h)),
        multi_(std::move(m)) {}

  Result<HttpResponse> Send(const HttpRequest& request) override {
    CURL* c = handle_.get();
    HttpResponse response;
    Transfer transfer{&response, config_.max_body};
    curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
    std::unique_ptr<curl_slist, SlistDeleter> headers;
    auto add_header = [&](const std::string& h) {
      headers.reset(curl_slist_append(headers.release(), h.c_str()));
    };
    add_header("Accept: */*");
    if (!config_.ats_namespace.empty()) {
      add_header("x-ats-namespace: " + config_.ats_namespace);
    }
    for (const auto& [name, value] : request.headers) {
      PH_RETURN_IF_ERROR(CheckHeader(name, value));
      add_header(name + ": " + value);
    }
    // A handle is reused: undo the previous request's method.
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, nullptr);
    if (request.method == "POST") {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                       static_cast<curl_off_t>(request.body.size()));
      if (request.json_body) add_header("Content-Type: application/json");
      add_header("Expect:");  // no 100-continue round trip
    } else if (request.method == "GET") {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (request.method == "DELETE") {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
      return Status::InvalidArgument("unsupported HTTP method " +
                                     request.method);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    auto timeout = request.timeout.value_or(config_.timeout);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
    char error[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);

    bool cancelled = false;
    CURLcode rc = Perform(request.cancel_fds, &cancelled);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
    if (cancelled) {
      return Status::Unavailable(request.method + " " + request.url +
                                 ": cancelled");
    }
    if (transfer.too_large) {
      return Status::Corrupt(request.method + " " + request.url +
                             ": response body larger than " +
                             std::to_string(config_.max_body) + " bytes");
    }
    if (rc != CURLE_OK) {
      std::string why = error[0] ? error : curl_easy_strerror(rc);
      return Status::Unavailable(request.method + " " + request.url + ": " +
                                 why);
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    return response;
  }

 private:
  // Runs the transfer set up on handle_ through the multi interface, so
  // that the wait can include the cancel descriptors. The multi handle
  // lives as long as the client: its connection cache keeps connections
  // alive between requests.
  CURLcode Perform(const std::vector<int>& cancel_fds, bool* cancelled) {
    if (AnyReadable(cancel_fds)) {
      *cancelled = true;
      return CURLE_ABORTED_BY_CALLBACK;
    }
    CURL* c = handle_.get();
    CURLM* m = multi_.get();
    if (curl_multi_add_handle(m, c) != CURLM_OK) return CURLE_FAILED_INIT;
    std::vector<curl_waitfd> extra;
    for (int fd : cancel_fds) extra.push_back({fd, CURL_WAIT_POLLIN, 0});
    CURLcode rc = CURLE_OK;
    for (;;) {
      int running = 0;
      if (curl_multi_perform(m, &running) != CURLM_OK) {
        rc = CURLE_FAILED_INIT;
        break;
      }
      if (running == 0) {
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(m, &queued)) {
          if (msg->msg == CURLMSG_DONE && msg->easy_handle == c) {
            rc = msg->data.result;
          }
        }
        break;
      }
      for (curl_waitfd& w : extra) w.revents = 0;
      if (curl_multi_poll(m, extra.data(), static_cast<unsigned>(extra.size()),
                          1000, nullptr) != CURLM_OK) {
        rc = CURLE_FAILED_INIT;
        break;
      }
      bool stop = false;
      for (const curl_waitfd& w : extra) stop = stop || w.revents != 0;
      if (stop) {
        *cancelled = true;
        rc = CURLE_ABORTED_BY_CALLBACK;
        break;
      }
    }
    curl_multi_remove_handle(m, c);
    return rc;
  }

  TlsClientConfig config_;
  std::unique_ptr<CURL, CurlDeleter> handle_;
  std::unique_ptr<CURLM, MultiDeleter> multi_;
};

}  // namespace

Status TlsClientConfig::LoadFiles() {
  const std::pair<const std::string*, std::string*> material[] = {
      {&ca_file, &ca_pem}, {&cert_file, &cert_pem}, {&key_file, &key_pem}};
  for (const auto& [file, pem] : material) {
    if (file->empty()) continue;
    PH_ASSIGN_OR_RETURN(*pem, ReadFile(*file, 1 << 20, true));
  }
  return Status::Ok();
}

Result<std::unique_ptr<HttpClient>> MakeCurlHttpClient(
    const TlsClientConfig& config) {
  InitCurlOnce();
  // Read each file once here so a missing one is named now, not at the first
  // request.
  const std::pair<const std::string*, const std::string*> material[] = {
      {&config.ca_file, &config.ca_pem},
      {&config.cert_file, &config.cert_pem},
      {&config.key_file, &config.key_pem}};
  for (const auto& [file, pem] : material) {
    if (file->empty() || !pem->empty()) continue;
    auto r = ReadFile(*file, 1 << 20, true);
    if (!r.ok()) return r.status();
  }
  std::unique_ptr<CURL, CurlDeleter> h(curl_easy_init());
  if (!h) return Status::Internal("curl_easy_init failed");
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
                   config.allow_plain_http ? "https,http" : "https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  // The configured CA is the only trust anchor: no system bundle or path.
  // Blobs are copied by libcurl (CURL_BLOB_COPY).
  auto blob = [](const std::string& pem) {
    curl_blob b = {const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
    return b;
  };
  if (!config.ca_pem.empty()) {
    curl_blob b = blob(config.ca_pem);
    curl_easy_setopt(c, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &b);
  } else {
    curl_easy_setopt(c, CURLOPT_CAINFO,
                     config.ca_file.empty() ? nullptr : config.ca_file.c_str());
  }
  curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
  if (!config.cert_pem.empty()) {
    curl_blob cert = blob(config.cert_pem), key = blob(config.key_pem);
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
  } else if (!config.cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, config.cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, config.key_file.c_str());
  }
  if (!config.user_agent.empty()) {
    curl_easy_setopt(c, CURLOPT_USERAGENT, config.user_agent.c_str());
  }
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  std::unique_ptr<CURLM, MultiDeleter> m(curl_multi_init());
  if (!m) return Status::Internal("curl_multi_init failed");
  return std::unique_ptr<HttpClient>(
      std::make_unique<CurlHttpClient>(config, std::move(h), std::move(m)));
}

Result<std::vector<std::string>> FetchPeerCertificates(
    const std::string& url, std::chrono::milliseconds timeout) {
  if (!url.starts_with("https://")) {
    return Status::InvalidArgument("'" + url + "': not an https:// URL");
  }
  InitCurlOnce();
  std::unique_ptr<CURL, CurlDeleter> h(curl_easy_init());
  if (!h) return Status::Internal("curl_easy_init failed");
  CURL* c = h.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  // Nothing is trusted here: the caller compares what comes back with a pin.
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  curl_easy_setopt(c, CURLOPT_CAINFO, nullptr);
  curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
  curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
  // The TLS handshake only: no request (and no token) goes to a server that
  // is not trusted yet.
  curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  if (rc != CURLE_OK) {
    return Status::Unavailable(url + ": " +
                               (error[0] ? error : curl_easy_strerror(rc)));
  }
  curl_certinfo* info = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &info) != CURLE_OK || !info ||
      info->num_of_certs <= 0) {
    return Status::Unavailable(url + ": the server presented no certificate");
  }
  std::vector<std::string> ders;
  for (int i = 0; i < info->num_of_certs; ++i) {
    std::string_view prefix = "Cert:";
    const curl_slist* pem = nullptr;
    for (const curl_slist* l = info->certinfo[i]; l; l = l->next) {
      if (std::string_view(l->data).starts_with(prefix)) pem = l;
    }
    if (!pem) {
      return Status::Internal(url + ": libcurl gave certificate " +
                              std::to_string(i) + " without its PEM");
    }
    auto der = crypto::PemDecode(
        std::string_view(pem->data).substr(prefix.size()), "CERTIFICATE");
    if (!der.ok())
      return der.status().Prefixed(url + ": certificate " + std::to_string(i));
    ders.push_back(std::move(*der));
  }
  return ders;
}

}  // namespace porthole::http
