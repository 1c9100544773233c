// porthole-bench-httpd: an HttpsServer (core/httpd) with a trivial device
// handler, for bench/httpd.sh. `GET /ras/sessions` answers what an idle
// device sees, 404 with a small RasError body and the long-poll headers;
// with `?wait=N` it holds the request N seconds first (a long poll with no
// session to announce). Prints the port on stdout, serves until SIGTERM or
// SIGINT. SIGUSR1 prints the heap in use (mallinfo2) on stderr:
// "heap_in_use_kib=N".
#include <malloc.h>
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/base/file.h"
#include "core/base/logging.h"
#include "core/httpd/httpd.h"

namespace {

using porthole::httpd::HttpsServer;
using porthole::httpd::Request;
using porthole::httpd::Responder;
using porthole::httpd::Response;
using porthole::httpd::TimerHandle;

Response NoSession() {
  Response r = Response::Json(
      404,
      R"({"code":"missing_remote_session","description":"no session for this device"})");
  r.headers.emplace_back("X-Porthole-Extensions", "long-poll=55, host-keys");
  r.headers.emplace_back("ETag", "\"3f1c0b8e2a474b3e\"");
  return r;
}

std::string Read(const std::string& path) {
  auto r = porthole::ReadFile(path, 1 << 20, true);
  if (!r.ok()) {
    std::fprintf(stderr, "porthole-bench-httpd: %s\n",
                 r.status().message().c_str());
    std::exit(1);
  }
  return *r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTPS server with a trivial device handler (bench/httpd.sh)"};
  std::string cert, key, ca;
  unsigned threads = 0;
  size_t max_connections = 20000;
  app.add_option("--cert", cert, "server certificate chain (PEM)")->required();
  app.add_option("--key", key, "server key (PEM)")->required();
  app.add_option("--ca", ca, "client CA (PEM); empty: no client certificates");
  app.add_option("--threads", threads, "I/O threads (0: one per core)");
  app.add_option("--max-connections", max_connections, "connection limit");
  CLI11_PARSE(app, argc, argv);
  porthole::InitLogging("porthole-bench-httpd", spdlog::level::warn);

  // Room for many connections.
  rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  // SIGTERM/SIGINT go to sigwait below, not to the I/O threads.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  HttpsServer::Options o;
  o.name = "bench";
  o.threads = threads;
  o.max_connections = max_connections;
  o.cert_chain_pem = Read(cert);
  o.key_pem = Read(key);
  if (!ca.empty()) o.client_ca_pem = Read(ca);

  std::mutex mu;
  std::vector<TimerHandle> held;  // the long polls' timers
  HttpsServer* server = nullptr;
  auto started = HttpsServer::Start(o, [&](Request&& r, Responder responder) {
    const std::string* wait = r.Query("wait");
    if (wait == nullptr) {
      responder.Respond(NoSession());
      return;
    }
    auto shared = std::make_shared<Responder>(std::move(responder));
    TimerHandle t =
        server->RunAfter(std::chrono::seconds(std::stoi(*wait)),
                         [shared] { shared->Respond(NoSession()); });
    std::lock_guard<std::mutex> lock(mu);
    held.push_back(std::move(t));
  });
  if (!started.ok()) {
    std::fprintf(stderr, "porthole-bench-httpd: %s\n",
                 started.status().message().c_str());
    return 1;
  }
  server = started->get();
  std::printf("%u\n", server->port());
  std::fflush(stdout);
  int sig = 0;
  for (;;) {
    sigwait(&stop_signals, &sig);
    if (sig != SIGUSR1) break;
    struct mallinfo2 mi = mallinfo2();
    std::fprintf(stderr, "heap_in_use_kib=%zu heap_arena_kib=%zu\n",
                 mi.uordblks / 1024, (mi.arena + mi.hblkhd) / 1024);
  }
  (*started)->Stop();
  return 0;
}
