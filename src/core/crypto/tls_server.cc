#include "core/crypto/tls_server.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/crypto/openssl_util.h"

namespace porthole::crypto {
namespace {

using ossl::BioPtr;
using ossl::PkeyPtr;
using ossl::X509Ptr;

// The reason of the first queued OpenSSL error (the root cause), then the
// queue emptied.
std::string TakeOpensslError() {
  unsigned long err = ERR_get_error();
  ERR_clear_error();
  if (err == 0) return "unknown error";
  const char* reason = ERR_reason_error_string(err);
  if (reason != nullptr) return reason;
  char buf[256];
  ERR_error_string_n(err, buf, sizeof(buf));
  return buf;
}

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// Reads every certificate of a PEM text; errors say "<what>: ...".
Result<std::vector<X509Ptr>> ReadCertificates(const std::string& pem,
                                              std::string_view what) {
  auto fail = [&](std::string why) {
    ERR_clear_error();
    return Status::InvalidArgument(std::string(what) + ": " + why);
  };
  if (pem.size() > INT_MAX) return fail("too long");
  BioPtr bio = MemBio(pem);
  std::vector<X509Ptr> certs;
  for (;;) {
    X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c) break;
    certs.push_back(std::move(c));
  }
  unsigned long err = ERR_peek_last_error();
  bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM &&
                   ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
  if (err != 0 && !clean_end) return fail(TakeOpensslError());
  ERR_clear_error();
  if (certs.empty()) return fail("no CERTIFICATE in PEM");
  return certs;
}

// A socket BIO whose writes use send(MSG_NOSIGNAL): OpenSSL's own socket
// BIO calls write(2), which raises SIGPIPE on a peer that reset.
int SockWrite(BIO* b, const char* data, int len) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  BIO_clear_retry_flags(b);
  ssize_t n = send(fd, data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(b);
  }
  return static_cast<int>(n);
}

int SockRead(BIO* b, char* out, int len) {
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  BIO_clear_retry_flags(b);
  ssize_t n = recv(fd, out, static_cast<size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(b);
  } else if (n == 0) {
    BIO_set_flags(b, BIO_FLAGS_IN_EOF);
  }
  return static_cast<int>(n);
}

long SockCtrl(BIO* b, int cmd, long, void*) {  // NOLINT: OpenSSL's type
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_EOF:
      return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0 ? 1 : 0;
    default:
      return 0;
  }
}

int SockCreate(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* NoSigpipeSocketMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(
        BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
        "porthole socket");
    if (m == nullptr) std::abort();
    BIO_meth_set_write(m, SockWrite);
    BIO_meth_set_read(m, SockRead);
    BIO_meth_set_ctrl(m, SockCtrl);
    BIO_meth_set_create(m, SockCreate);
    return m;
  }();
  return method;
}

}  // namespace

Result<std::shared_ptr<const TlsServerContext>> TlsServerContext::Create(
    const TlsServerConfig& config) {
  CPtr<SSL_CTX, SSL_CTX_free> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::Internal("TLS: " + TakeOpensslError());
  SSL_CTX* c = ctx.get();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE |
                             SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_num_tickets(c, 0);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // One recv() per burst instead of one per record header and body.
  SSL_CTX_set_read_ahead(c, 1);
  if (SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return Status::Internal("TLS cipher list: " + TakeOpensslError());
  }

  PH_ASSIGN_OR_RETURN(auto chain, ReadCertificates(config.cert_chain_pem,
                                                   "TLS certificate chain"));
  if (SSL_CTX_use_certificate(c, chain[0].get()) != 1) {
    return Status::InvalidArgument("TLS certificate chain: " +
                                   TakeOpensslError());
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(c, chain[i].get()) != 1) {
      return Status::InvalidArgument("TLS certificate chain: " +
                                     TakeOpensslError());
    }
  }
  if (config.key_pem.size() > INT_MAX) {
    return Status::InvalidArgument("TLS private key: too long");
  }
  BioPtr key_bio = MemBio(config.key_pem);
  PkeyPtr key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return Status::InvalidArgument("TLS private key: " + TakeOpensslError());
  }
  if (SSL_CTX_use_PrivateKey(c, key.get()) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(
        "TLS private key does not match the certificate");
  }

  bool require = !config.client_ca_pem.empty();
  if (require) {
    PH_ASSIGN_OR_RETURN(
        auto cas, ReadCertificates(config.client_ca_pem, "TLS client CA"));
    X509_STORE* store = X509_STORE_new();
    if (store == nullptr) return Status::Internal("TLS: out of memory");
    SSL_CTX_set_cert_store(c, store);  // owned by the context from here
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    for (const auto& ca : cas) {
      if (X509_STORE_add_cert(store, ca.get()) != 1) {
        sk_X509_NAME_pop_free(names, X509_NAME_free);
        return Status::InvalidArgument("TLS client CA: " + TakeOpensslError());
      }
      X509_NAME* n = X509_NAME_dup(X509_get_subject_name(ca.get()));
      if (n != nullptr) sk_X509_NAME_push(names, n);
    }
    SSL_CTX_set_client_CA_list(c, names);  // takes `names`
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       nullptr);
    SSL_CTX_set_verify_depth(c, 4);
  } else {
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
  }
  ERR_clear_error();
  return std::shared_ptr<const TlsServerContext>(
      new TlsServerContext(ctx.release(), require));
}

TlsServerContext::~TlsServerContext() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<TlsServerSession>> TlsServerSession::Create(
    const TlsServerContext& context, int fd) {
  SSL* ssl = SSL_new(context.ctx_);
  if (ssl == nullptr) return Status::Internal("TLS: " + TakeOpensslError());
  std::unique_ptr<TlsServerSession> s(new TlsServerSession(ssl));
  BIO* bio = BIO_new(NoSigpipeSocketMethod());
  if (bio == nullptr) return Status::Internal("TLS: " + TakeOpensslError());
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  SSL_set_bio(ssl, bio, bio);  // the SSL owns the BIO (one reference)
  SSL_set_accept_state(ssl);
  return s;
}

TlsServerSession::~TlsServerSession() { SSL_free(ssl_); }

TlsIo TlsServerSession::Finish(int ret, size_t* n) {
  if (ret > 0) {
    if (n != nullptr) *n = static_cast<size_t>(ret);
    return TlsIo::kOk;
  }
  int saved_errno = errno;
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
      return TlsIo::kWantRead;
    case SSL_ERROR_WANT_WRITE:
      return TlsIo::kWantWrite;
    case SSL_ERROR_ZERO_RETURN:
      ERR_clear_error();
      error_ = "closed by the peer";
      return TlsIo::kClosed;
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_error() == 0) {
        ERR_clear_error();
        if (saved_errno == 0) {
          error_ = "connection closed";
          return TlsIo::kClosed;
        }
        error_ = std::strerror(saved_errno);
        return TlsIo::kError;
      }
      break;
    case SSL_ERROR_SSL: {
      unsigned long err = ERR_peek_error();
      if (ERR_GET_LIB(err) == ERR_LIB_SSL &&
          ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ERR_clear_error();
        error_ = "connection closed";
        return TlsIo::kClosed;
      }
      break;
    }
    default:
      break;
  }
  error_ = TakeOpensslError();
  long verify = SSL_get_verify_result(ssl_);
  if (verify != X509_V_OK) {
    error_ += ": ";
    error_ += X509_verify_cert_error_string(verify);
  }
  return TlsIo::kError;
}

TlsIo TlsServerSession::Handshake() {
  ERR_clear_error();
  return Finish(SSL_do_handshake(ssl_), nullptr);
}

TlsIo TlsServerSession::Read(char* buf, size_t cap, size_t* n) {
  ERR_clear_error();
  int len = cap > INT_MAX ? INT_MAX : static_cast<int>(cap);
  return Finish(SSL_read(ssl_, buf, len), n);
}

TlsIo TlsServerSession::Write(const char* data, size_t len, size_t* n) {
  ERR_clear_error();
  int l = len > INT_MAX ? INT_MAX : static_cast<int>(len);
  return Finish(SSL_write(ssl_, data, l), n);
}

TlsIo TlsServerSession::Shutdown() {
  ERR_clear_error();
  int ret = SSL_shutdown(ssl_);
  if (ret >= 0) {  // 0: our close_notify is out, the peer's not read
    ERR_clear_error();
    return TlsIo::kOk;
  }
  return Finish(ret, nullptr);
}

bool TlsServerSession::HasBufferedInput() const {
  return SSL_has_pending(ssl_) == 1;
}

std::string TlsServerSession::PeerCertificateDer() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return "";
  return ossl::ToDer(cert, i2d_X509);
}

std::string TlsServerSession::Protocol() const { return SSL_get_version(ssl_); }

}  // namespace porthole::crypto
