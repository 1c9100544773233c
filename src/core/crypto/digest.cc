#include "core/crypto/digest.h"
#include "core/crypto/openssl_util.h"

#include <array>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include <cstdlib>
#include <memory>

namespace porthole::crypto {
namespace {

using ossl::BnCtxPtr;
using ossl::BnPtr;
using ossl::GroupPtr;
using ossl::PointPtr;

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// -1 for anything outside the standard alphabet (including '=').
constexpr std::array<int8_t, 256> kBase64Values = [] {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  const char* alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  return t;
}();

int Base64Value(unsigned char c) { return kBase64Values[c]; }

int CurveNid(std::string_view curve) {
  if (curve == "nistp256") return NID_X9_62_prime256v1;
  if (curve == "nistp384") return NID_secp384r1;
  if (curve == "nistp521") return NID_secp521r1;
  return NID_undef;
}

}  // namespace

Sha256Digest Sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int len = 0;
  // EVP_Digest can only fail on allocation failure; there is no sensible
  // way to continue with a wrong hash, so treat that as fatal.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(),
                 nullptr) != 1 ||
      len != out.size()) {
    std::abort();
  }
  return out;
}

std::string HexEncode(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (unsigned char c : data) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0x0f]);
  }
  return out;
}

std::string HexEncode(const Sha256Digest& d) {
  return HexEncode(
      std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

std::string Base64UrlEncode(std::string_view data) {
  std::string out = Base64Encode(data, false);
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string Base64Encode(std::string_view data, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8) |
                 uint32_t{static_cast<unsigned char>(data[i + 2])};
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{static_cast<unsigned char>(data[i])} << 16;
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8);
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  // Count the padding first so that the character check below can treat
  // every remaining '=' as misplaced.
  size_t pad = 0;
  while (pad < text.size() && pad < 3 && text[text.size() - 1 - pad] == '=') {
    ++pad;
  }
  std::string_view body = text.substr(0, text.size() - pad);
  for (unsigned char c : body) {
    if (c == '=') return Status::InvalidArgument("bad base64 padding");
    if (Base64Value(c) < 0) {
      return Status::InvalidArgument("invalid base64 character");
    }
  }
  if (text.size() % 4 != 0) {
    if (pad == 0 && text.size() % 4 == 1) {
      return Status::InvalidArgument("truncated base64");
    }
    if (pad == 0) return Status::InvalidArgument("missing base64 padding");
    return Status::InvalidArgument("bad base64 padding");
  }
  // With the length a multiple of 4, a valid tail is "xx==" or "xxx=".
  if (pad > 2) return Status::InvalidArgument("bad base64 padding");

  // Whole groups of four characters become three bytes; the tail (2 or 3
  // characters) one or two.
  std::string out(
      body.size() / 4 * 3 + (body.size() % 4 ? body.size() % 4 - 1 : 0), '\0');
  char* o = out.data();
  size_t i = 0;
  for (; i + 4 <= body.size(); i += 4) {
    uint32_t v = static_cast<uint32_t>(Base64Value(body[i])) << 18 |
                 static_cast<uint32_t>(Base64Value(body[i + 1])) << 12 |
                 static_cast<uint32_t>(Base64Value(body[i + 2])) << 6 |
                 static_cast<uint32_t>(Base64Value(body[i + 3]));
    *o++ = static_cast<char>(v >> 16);
    *o++ = static_cast<char>(v >> 8);
    *o++ = static_cast<char>(v);
  }
  uint32_t acc = 0;
  int nbits = 0;
  for (; i < body.size(); ++i) {
    acc = (acc << 6) | static_cast<uint32_t>(Base64Value(body[i]));
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      *o++ = static_cast<char>((acc >> nbits) & 0xff);
    }
  }
  // Leftover bits (2 or 4) must be zero, or two texts would decode to the
  // same bytes; keys are compared by blob so the text must be canonical.
  if (nbits > 0 && (acc & ((1u << nbits) - 1)) != 0) {
    return Status::InvalidArgument("non-zero trailing bits in base64");
  }
  return out;
}

bool IsValidEcPoint(std::string_view curve, std::string_view point) {
  int nid = CurveNid(curve);
  if (nid == NID_undef) return false;
  GroupPtr group(EC_GROUP_new_by_curve_name(nid));
  BnCtxPtr ctx(BN_CTX_new());
  if (!group || !ctx) return false;

  // Only the uncompressed form of exactly the right length: sshd refuses
  // compressed points, and a canonical encoding keeps blobs unique per key.
  size_t field_bytes = (EC_GROUP_get_degree(group.get()) + 7) / 8;
  if (point.size() != 1 + 2 * field_bytes ||
      static_cast<unsigned char>(point[0]) != POINT_CONVERSION_UNCOMPRESSED) {
    return false;
  }
  PointPtr p(EC_POINT_new(group.get()));
  if (!p) return false;
  if (EC_POINT_oct2point(group.get(), p.get(),
                         reinterpret_cast<const unsigned char*>(point.data()),
                         point.size(), ctx.get()) != 1) {
    return false;
  }
  if (EC_POINT_is_on_curve(group.get(), p.get(), ctx.get()) != 1 ||
      EC_POINT_is_at_infinity(group.get(), p.get()) == 1) {
    return false;
  }

  // The remaining checks are the ones sshd's sshkey_ec_validate_public()
  // adds; without them we would accept a line that sshd ignores.
  BnPtr order(BN_new());
  BnPtr x(BN_new());
  BnPtr y(BN_new());
  BnPtr order_minus_one(BN_new());
  PointPtr nq(EC_POINT_new(group.get()));
  if (!order || !x || !y || !order_minus_one || !nq) return false;
  if (EC_GROUP_get_order(group.get(), order.get(), ctx.get()) != 1 ||
      EC_POINT_get_affine_coordinates(group.get(), p.get(), x.get(), y.get(),
                                      ctx.get()) != 1) {
    return false;
  }
  int half_order_bits = BN_num_bits(order.get()) / 2;
  if (BN_num_bits(x.get()) <= half_order_bits ||
      BN_num_bits(y.get()) <= half_order_bits) {
    return false;
  }
  if (EC_POINT_mul(group.get(), nq.get(), nullptr, p.get(), order.get(),
                   ctx.get()) != 1 ||
      EC_POINT_is_at_infinity(group.get(), nq.get()) != 1) {
    return false;
  }
  if (BN_sub(order_minus_one.get(), order.get(), BN_value_one()) != 1 ||
      BN_cmp(x.get(), order_minus_one.get()) >= 0 ||
      BN_cmp(y.get(), order_minus_one.get()) >= 0) {
    return false;
  }
  return true;
}

}  // namespace porthole::crypto
