// porthole-bench-httpd-load: N keep-alive mutual-TLS clients against
// porthole-bench-httpd (bench/httpd.sh), OpenSSL on non-blocking sockets
// and epoll, one event loop per thread.
//
//   1. The server's RSS before any client connects.
//   2. N clients connect (TLS handshake with the client certificate) and
//      each makes one `GET /ras/sessions`, then sits idle: the server's RSS
//      again, so memory per idle keep-alive connection.
//   3. Every client polls `GET /ras/sessions` for the measured window: in a
//      closed loop (the next request as soon as the answer is in), or with
//      --rate R paced so that all clients together send R requests/s (each
//      client every N/R seconds, phases spread): requests/s, latency
//      p50/p99, the server's CPU.
//   4. Every client sends one long poll (`?wait=3600`) that the server
//      holds: the server's RSS with N pending long polls.
//
// Prints KEY=VALUE lines (RSS in KiB, latencies in microseconds).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <queue>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "porthole-bench-httpd-load: %s\n", why.c_str());
  std::exit(1);
}

// /proc/PID/status field in KiB.
long StatusKib(int pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      return std::stol(line.substr(field.size() + 1));
    }
  }
  Die("no " + field + " for pid " + std::to_string(pid));
}

// utime + stime of a process, seconds.
double CpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(f)),
                  std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  long ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stol(field);
  }
  return static_cast<double>(ticks) / sysconf(_SC_CLK_TCK);
}

double SelfCpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

enum class Phase { kConnect, kIdle, kLoad, kLongPoll, kDone };

struct Shared {
  double interval_s = 0;  // per client, paced mode; 0: closed loop
  std::atomic<Phase> phase{Phase::kConnect};
  std::atomic<int> ready{0};  // clients that finished their first request
  std::atomic<int> polls_sent{0};
  std::atomic<long> failures{0};
};

struct Client {
  int fd = -1;
  SSL* ssl = nullptr;
  bool handshaken = false;
  bool in_flight = false;
  bool want_write = false;  // SSL asked for it
  std::string out;          // request bytes not yet written
  std::string in;           // response bytes
  Clock::time_point sent;
  bool first_done = false;
  bool poll_sent = false;
};

class Loop {
 public:
  Loop(SSL_CTX* ctx, const sockaddr_in& addr, int clients, Shared* shared)
      : ctx_(ctx), addr_(addr), shared_(shared), clients_(clients) {
    ep_ = epoll_create1(0);
    latencies_.reserve(1 << 20);
  }

  void Run() {
    // Handshakes in waves, so the listen queue and the server's handshake
    // work stay reasonable.
    int next = 0;
    std::vector<epoll_event> events(1024);
    Phase seen = Phase::kConnect;
    while (true) {
      Phase p = shared_->phase.load();
      if (p == Phase::kDone) break;
      if (p != seen) {
        seen = p;
        if (p == Phase::kLoad) {
          if (shared_->interval_s == 0) {
            for (auto& c : clients_) StartRequest(c, false);
          } else {
            // Spread the clients' first requests over one interval.
            std::mt19937 rng(static_cast<unsigned>(clients_.size()));
            std::uniform_real_distribution<double> phase(0,
                                                         shared_->interval_s);
            auto now = Clock::now();
            for (auto& c : clients_) {
              due_.push({now + Dur(phase(rng)),
                         static_cast<uint32_t>(&c - clients_.data())});
            }
          }
        } else if (p == Phase::kLongPoll) {
          for (auto& c : clients_) {
            if (!c.in_flight) StartRequest(c, true);
          }
        }
      }
      while (next < static_cast<int>(clients_.size()) && connecting_ < 64) {
        Connect(clients_[next++]);
        ++connecting_;
      }
      int timeout_ms = 50;
      auto now = Clock::now();
      while (!due_.empty() && due_.top().first <= now) {
        Client& c = clients_[due_.top().second];
        due_.pop();
        if (shared_->phase.load() == Phase::kLoad) StartRequest(c, false);
      }
      if (!due_.empty()) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            due_.top().first - now);
        timeout_ms = std::clamp<int>(static_cast<int>(wait.count()), 0, 50);
      }
      int n = epoll_wait(ep_, events.data(), events.size(), timeout_ms);
      for (int i = 0; i < n; ++i) {
        Drive(clients_[events[i].data.u32]);
      }
    }
    for (auto& c : clients_) {
      if (c.ssl != nullptr) SSL_free(c.ssl);
      if (c.fd >= 0) close(c.fd);
    }
  }

  std::vector<uint32_t>& latencies() { return latencies_; }

 private:
  void Connect(Client& c) {
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&addr_),
                sizeof(addr_)) != 0 &&
        errno != EINPROGRESS) {
      Die(std::string("connect: ") + std::strerror(errno));
    }
    c.ssl = SSL_new(ctx_);
    SSL_set_fd(c.ssl, c.fd);
    SSL_set_connect_state(c.ssl);
    SSL_set_tlsext_host_name(c.ssl, "localhost");
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(&c - clients_.data());
    epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
    c.want_write = true;
    c.out =
        "GET /ras/sessions HTTP/1.1\r\nHost: localhost\r\n"
        "User-Agent: porthole-bench\r\nAccept: */*\r\n\r\n";
    c.in_flight = true;
    c.sent = Clock::now();
  }

  void StartRequest(Client& c, bool long_poll) {
    if (c.ssl == nullptr || c.in_flight) return;
    c.out = long_poll ? "GET /ras/sessions?wait=3600 HTTP/1.1\r\n"
                        "Host: localhost\r\nUser-Agent: porthole-bench\r\n"
                        "Accept: */*\r\n\r\n"
                      : "GET /ras/sessions HTTP/1.1\r\nHost: localhost\r\n"
                        "User-Agent: porthole-bench\r\nAccept: */*\r\n\r\n";
    c.in_flight = true;
    c.poll_sent = long_poll;
    if (long_poll) shared_->polls_sent.fetch_add(1);
    c.sent = Clock::now();
    Drive(c);
  }

  void SetWantWrite(Client& c, bool want) {
    if (c.want_write == want) return;
    c.want_write = want;
    epoll_event ev{};
    ev.events = want ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(&c - clients_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void Fail(Client& c, const char* what) {
    shared_->failures.fetch_add(1);
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    std::fprintf(stderr, "client: %s (%s)\n", what,
                 e ? ERR_reason_error_string(e) : std::strerror(errno));
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    SSL_free(c.ssl);
    close(c.fd);
    c.ssl = nullptr;
    c.fd = -1;
    if (!c.first_done) {
      c.first_done = true;
      --connecting_;
      shared_->ready.fetch_add(1);
    }
  }

  void Drive(Client& c) {
    if (c.ssl == nullptr) return;
    if (!c.handshaken) {
      int r = SSL_do_handshake(c.ssl);
      if (r != 1) {
        int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ) return SetWantWrite(c, false);
        if (e == SSL_ERROR_WANT_WRITE) return SetWantWrite(c, true);
        return Fail(c, "handshake");
      }
      c.handshaken = true;
    }
    while (!c.out.empty()) {
      int r = SSL_write(c.ssl, c.out.data(), static_cast<int>(c.out.size()));
      if (r > 0) {
        c.out.erase(0, r);
        continue;
      }
      int e = SSL_get_error(c.ssl, r);
      if (e == SSL_ERROR_WANT_WRITE) return SetWantWrite(c, true);
      if (e == SSL_ERROR_WANT_READ) break;
      return Fail(c, "write");
    }
    SetWantWrite(c, false);
    char buf[16384];
    for (;;) {
      int r = SSL_read(c.ssl, buf, sizeof(buf));
      if (r > 0) {
        c.in.append(buf, r);
        if (Complete(c)) {
          OnResponse(c);
          if (c.ssl == nullptr || !c.out.empty()) return Drive(c);
        }
        continue;
      }
      int e = SSL_get_error(c.ssl, r);
      if (e == SSL_ERROR_WANT_READ) return;
      if (e == SSL_ERROR_WANT_WRITE) return SetWantWrite(c, true);
      return Fail(c, "read");
    }
  }

  // A whole response (Content-Length framing) is in c.in.
  static bool Complete(Client& c) {
    size_t end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    size_t at = c.in.find("Content-Length: ");
    size_t length = 0;
    if (at != std::string::npos && at < end) {
      length = std::strtoul(c.in.c_str() + at + 16, nullptr, 10);
    }
    if (c.in.size() < end + 4 + length) return false;
    c.in.erase(0, end + 4 + length);
    return true;
  }

  void OnResponse(Client& c) {
    c.in_flight = false;
    Phase p = shared_->phase.load();
    if (!c.first_done) {
      c.first_done = true;
      --connecting_;
      shared_->ready.fetch_add(1);
      return;
    }
    if (p == Phase::kLoad) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          Clock::now() - c.sent);
      latencies_.push_back(static_cast<uint32_t>(us.count()));
      if (shared_->interval_s == 0) {
        StartRequest(c, false);
      } else {
        due_.push({c.sent + Dur(shared_->interval_s),
                   static_cast<uint32_t>(&c - clients_.data())});
      }
    } else if (p == Phase::kLongPoll && !c.poll_sent) {
      StartRequest(c, true);
    }
  }

  SSL_CTX* ctx_;
  sockaddr_in addr_;
  Shared* shared_;
  std::vector<Client> clients_;
  static Clock::duration Dur(double s) {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(s));
  }
  using Due = std::pair<Clock::time_point, uint32_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> due_;
  int ep_;
  int connecting_ = 0;  // connected, first response not yet in
  std::vector<uint32_t> latencies_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "mTLS keep-alive load for porthole-bench-httpd (bench/httpd.sh)"};
  int port = 0, server_pid = 0, clients = 1000, threads = 1;
  double seconds = 10, settle = 2, rate = 0;
  std::string ca, cert, key;
  bool no_heap_signal = false;
  app.add_option("--port", port, "server port on 127.0.0.1")->required();
  app.add_option("--server-pid", server_pid, "for RSS and CPU")->required();
  app.add_option("--ca", ca, "CA of the server certificate")->required();
  app.add_option("--cert", cert, "client certificate");
  app.add_option("--key", key, "client key");
  app.add_option("--clients", clients, "keep-alive clients");
  app.add_option("--threads", threads, "event loops");
  app.add_option("--seconds", seconds, "measured polling window");
  app.add_option("--settle", settle, "seconds before reading idle RSS");
  app.add_option("--rate", rate, "total requests/s, paced (0: closed loop)");
  app.add_flag("--no-heap-signal", no_heap_signal,
               "never send the server SIGUSR1 (porthole-server dies of it)");
  CLI11_PARSE(app, argc, argv);
  signal(SIGPIPE, SIG_IGN);
  rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) Die("ca");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!cert.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)) {
    Die("client certificate or key");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);

  // The server's RSS; also asks it to print its heap in use (SIGUSR1)
  // unless told not to (a server that does not handle SIGUSR1 dies of it).
  auto rss = [&] {
    if (!no_heap_signal) kill(server_pid, SIGUSR1);
    return StatusKib(server_pid, "VmRSS");
  };
  auto sleep_s = [](double s) {
    std::this_thread::sleep_for(std::chrono::duration<double>(s));
  };
  long rss_before = rss();
  Shared shared;
  if (rate > 0) shared.interval_s = clients / rate;
  std::vector<std::unique_ptr<Loop>> loops;
  for (int t = 0; t < threads; ++t) {
    int n = clients / threads + (t < clients % threads ? 1 : 0);
    loops.push_back(std::make_unique<Loop>(ctx, addr, n, &shared));
  }
  auto connect_start = Clock::now();
  std::vector<std::thread> workers;
  for (auto& l : loops) workers.emplace_back([&l] { l->Run(); });
  while (shared.ready.load() < clients) sleep_s(0.01);
  double connect_s =
      std::chrono::duration<double>(Clock::now() - connect_start).count();
  sleep_s(settle);
  long rss_idle = rss();

  double cpu0 = CpuSeconds(server_pid), self0 = SelfCpuSeconds();
  auto t0 = Clock::now();
  shared.phase = Phase::kLoad;
  sleep_s(seconds);
  shared.phase = Phase::kIdle;
  double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu1 = CpuSeconds(server_pid), self1 = SelfCpuSeconds();
  sleep_s(0.5);  // requests in flight finish

  shared.phase = Phase::kLongPoll;
  while (shared.polls_sent.load() < clients - shared.failures.load()) {
    sleep_s(0.01);
  }
  sleep_s(settle);  // the server has read and is holding them
  long rss_poll = rss();
  shared.phase = Phase::kDone;
  for (auto& w : workers) w.join();

  std::vector<uint32_t> all;
  for (auto& l : loops) {
    all.insert(all.end(), l->latencies().begin(), l->latencies().end());
  }
  std::sort(all.begin(), all.end());
  auto pct = [&](double q) {
    return all.empty() ? 0u
                       : all[std::min(all.size() - 1,
                                      static_cast<size_t>(q * all.size()))];
  };
  std::printf("clients=%d\nloadgen_threads=%d\nfailures=%ld\n", clients,
              threads, shared.failures.load());
  std::printf("target_rate=%.0f\n", rate);
  std::printf("connect_s=%.2f\n", connect_s);
  std::printf("rss_before_kib=%ld\nrss_idle_kib=%ld\nrss_longpoll_kib=%ld\n",
              rss_before, rss_idle, rss_poll);
  std::printf("requests=%zu\nwindow_s=%.2f\nrps=%.0f\n", all.size(), elapsed,
              all.size() / elapsed);
  std::printf("p50_us=%u\np99_us=%u\nmax_us=%u\n", pct(0.50), pct(0.99),
              all.empty() ? 0u : all.back());
  std::printf("server_cpu_pct=%.1f\nloadgen_cpu_pct=%.1f\n",
              (cpu1 - cpu0) / elapsed * 100, (self1 - self0) / elapsed * 100);
  SSL_CTX_free(ctx);
  return shared.failures.load() == 0 ? 0 : 1;
}
