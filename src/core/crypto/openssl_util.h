// Internal to core/crypto: owning pointers for OpenSSL objects and the few
// helpers every .cc file of this folder needs. Not part of its interface;
// nothing outside src/core/crypto includes it.

#ifndef PORTHOLE_CORE_CRYPTO_OPENSSL_UTIL_H_
#define PORTHOLE_CORE_CRYPTO_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/c_ptr.h"
#include "core/base/status.h"

namespace porthole::crypto::ossl {

using BioPtr = CPtr<BIO, BIO_free>;
using BnPtr = CPtr<BIGNUM, BN_free>;
using BnCtxPtr = CPtr<BN_CTX, BN_CTX_free>;
using ExtPtr = CPtr<X509_EXTENSION, X509_EXTENSION_free>;
using GroupPtr = CPtr<EC_GROUP, EC_GROUP_free>;
using MdCtxPtr = CPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using PkeyPtr = CPtr<EVP_PKEY, EVP_PKEY_free>;
using PointPtr = CPtr<EC_POINT, EC_POINT_free>;
using X509Ptr = CPtr<X509, X509_free>;
using X509ReqPtr = CPtr<X509_REQ, X509_REQ_free>;

// RSA keys this code accepts, for signatures and certificates alike.
constexpr int kRsaMinBits = 2048;
constexpr int kRsaMaxBits = 8192;

inline const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// An OpenSSL failure on the caller's input: the error queue is emptied so
// that it cannot leak into an unrelated later call, and the caller's reason
// is returned.
inline Status OpenSslError(std::string reason) {
  ERR_clear_error();
  return Status::InvalidArgument(std::move(reason));
}

// The DER encoding of an OpenSSL object by its i2d function (i2d_X509,
// i2d_PUBKEY); empty, with the error queue emptied, if OpenSSL cannot
// encode it.
template <typename T>
std::string ToDer(const T* obj, int (*i2d)(const T*, unsigned char**)) {
  unsigned char* der = nullptr;
  int len = i2d(obj, &der);
  if (len <= 0) {
    ERR_clear_error();
    return "";
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// The DER SubjectPublicKeyInfo of a key we hold.
inline std::string SpkiOf(const EVP_PKEY* key) {
  std::string der = ToDer(key, i2d_PUBKEY);
  if (der.empty()) std::abort();  // only on allocation failure
  return der;
}

// A certificate's serial number as lower-case hex without leading zeros
// ("0" for zero, "-" first if negative). BN_bn2hex writes whole bytes, so
// "0A" must lose its zero to match what `openssl x509 -serial` shows once
// its own padding is stripped.
inline Result<std::string> SerialHex(const X509* cert) {
  BnPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (!bn) return OpenSslError("serial number does not parse");
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return OpenSslError("serial number does not parse");
  std::string s(hex);
  OPENSSL_free(hex);
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  size_t sign = s.starts_with('-') ? 1 : 0;
  size_t first = s.find_first_not_of('0', sign);
  if (first == std::string::npos) return std::string("0");
  return s.substr(0, sign) + s.substr(first);
}

}  // namespace porthole::crypto::ossl

#endif  // PORTHOLE_CORE_CRYPTO_OPENSSL_UTIL_H_
