// The server side of TLS on a non-blocking socket that an event loop owns
// (core/httpd): this class runs OpenSSL on the descriptor and says whether
// it needs the socket to become readable or writable; the caller waits for
// that and calls again.
//
// Policy, fixed here rather than configurable:
//   - TLS 1.2 and 1.3 only; TLS 1.2 with ECDHE + AES-GCM/ChaCha20 only;
//     no renegotiation, no compression.
//   - No session resumption (no tickets, no cache): every connection
//     verifies the client certificate afresh, so an expired or newly
//     distrusted certificate cannot ride on an old session. Devices keep
//     their connections alive, so full handshakes are rare.
//   - With `client_ca_pem` set, a client certificate is REQUIRED and must
//     chain to one of the certificates in that PEM, which are the only
//     trust anchors (no system store; an intermediate given there is a
//     trust anchor too, X509_V_FLAG_PARTIAL_CHAIN). A missing, expired,
//     not-yet-valid or foreign certificate, or one whose extendedKeyUsage
//     excludes clientAuth, fails the handshake (a TLS alert is sent): there
//     is no verify callback that could let it through (FIELD-NOTES.md 9).
//   - Without `client_ca_pem` no certificate is asked for.
//   - Memory: OpenSSL's record buffers are released whenever they are empty
//     (SSL_MODE_RELEASE_BUFFERS), so an idle connection costs the SSL object
//     and its verified peer certificate, a few KiB. But a Read() that finds
//     nothing allocates the 16 KiB read buffer and keeps it: a caller that
//     wants idle connections small calls Read() only once the socket is
//     readable (or HasBufferedInput()).
//   - Writes never raise SIGPIPE (send(2) with MSG_NOSIGNAL), whatever the
//     process's signal disposition.
#ifndef PORTHOLE_CORE_CRYPTO_TLS_SERVER_H_
#define PORTHOLE_CORE_CRYPTO_TLS_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>

#include "core/base/status.h"

typedef struct ssl_ctx_st SSL_CTX;  // NOLINT: OpenSSL's own forward names
typedef struct ssl_st SSL;          // NOLINT

namespace porthole::crypto {

struct TlsServerConfig {
  std::string cert_chain_pem;  // the server certificate, then intermediates
  std::string key_pem;         // its private key (unencrypted PEM)
  std::string client_ca_pem;   // empty: no client certificates
};

// Immutable after Create(); shared by every connection, safe to use from
// several threads at once.
class TlsServerContext {
 public:
  // kInvalidArgument naming the part at fault ("TLS certificate chain: ...",
  // "TLS private key: ...", "TLS private key does not match the
  // certificate", "TLS client CA: ...").
  static Result<std::shared_ptr<const TlsServerContext>> Create(
      const TlsServerConfig& config);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

  bool client_certificate_required() const { return require_client_cert_; }

 private:
  TlsServerContext(SSL_CTX* ctx, bool require)
      : ctx_(ctx), require_client_cert_(require) {}
  friend class TlsServerSession;
  SSL_CTX* ctx_;
  bool require_client_cert_;
};

enum class TlsIo {
  kOk,         // done (for Read/Write: *n bytes, at least 1)
  kWantRead,   // call again when the socket is readable
  kWantWrite,  // call again when the socket is writable
  kClosed,     // the peer closed (close_notify or plain EOF)
  kError,      // fatal; error() says why; drop the connection
};

// One connection. Not thread-safe: one thread at a time. The descriptor is
// not owned; it must stay open while this object is used, and the caller
// closes it afterwards.
class TlsServerSession {
 public:
  static Result<std::unique_ptr<TlsServerSession>> Create(
      const TlsServerContext& context, int fd);
  ~TlsServerSession();
  TlsServerSession(const TlsServerSession&) = delete;
  TlsServerSession& operator=(const TlsServerSession&) = delete;

  // Until kOk; kError for a failed handshake (a refused certificate, a
  // client that does not speak TLS), error() saying why, e.g. "certificate
  // verify failed: certificate has expired", "peer did not return a
  // certificate", "http request".
  TlsIo Handshake();
  // At most `cap` bytes of application data (cap > 0).
  TlsIo Read(char* buf, size_t cap, size_t* n);
  // Some of `data` (len > 0); partial writes happen. After kWantRead or
  // kWantWrite, call again with the same data.
  TlsIo Write(const char* data, size_t len, size_t* n);
  // Sends close_notify (once); does not wait for the peer's. kOk when sent.
  TlsIo Shutdown();

  // True when OpenSSL holds received bytes not yet returned by Read(): the
  // socket may not become readable again before they are read.
  bool HasBufferedInput() const;

  // Why the last call returned kError (or kClosed).
  const std::string& error() const { return error_; }
  // The verified client certificate (DER), or empty when none was asked
  // for. Valid after the handshake.
  std::string PeerCertificateDer() const;
  // "TLSv1.3" etc.
  std::string Protocol() const;

 private:
  explicit TlsServerSession(SSL* ssl) : ssl_(ssl) {}
  TlsIo Finish(int ret, size_t* n);
  SSL* ssl_;
  std::string error_;
};

}  // namespace porthole::crypto

#endif  // PORTHOLE_CORE_CRYPTO_TLS_SERVER_H_
