/*
 * soft_sk: a software "security key" for tests only.
 *
 * Implements the SecurityKeyProvider middleware interface that OpenSSH's
 * ssh-sk-helper dlopen()s (API major version 10, OpenSSH 8.9 .. 9.x), so that
 * the end-to-end tests can enroll and use sk-ssh-ed25519@openssh.com and
 * sk-ecdsa-sha2-nistp256@openssh.com keys without hardware.
 *
 * NOT A SECURITY DEVICE. The key handle IS the private key:
 *   ed25519: the raw 32-byte seed;
 *   ecdsa:   the DER (PKCS#8) encoding of the P-256 private key.
 * Anyone with the key handle file can sign.
 *
 * What a signature covers (what sshd verifies):
 *   message = SHA256(application) || flags || counter (big-endian u32)
 *             || SHA256(data)
 *   ed25519: Ed25519(message); ecdsa: ECDSA-P256 over SHA256(message).
 *
 * Environment:
 *   SOFT_SK_NO_TOUCH=1   report flags 0 (no user presence) in signatures, so
 *                        tests can prove sshd refuses an untouched key.
 *
 * Resident keys are not stored: sk_load_resident_keys() returns none.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/*
 * The middleware ABI, declared here from OpenSSH's published interface
 * description (sk-api.h, API version 0x000a0000). Layouts must match
 * exactly: OpenSSH reads and frees these structures.
 */
#define SOFT_SK_API_VERSION 0x000a0000U

#define SOFT_SK_FLAG_USER_PRESENCE 0x01

#define SOFT_SK_ALG_ECDSA 0x00
#define SOFT_SK_ALG_ED25519 0x01

#define SOFT_SK_ERR_GENERAL (-1)
#define SOFT_SK_ERR_UNSUPPORTED (-2)

struct sk_enroll_response {
  uint8_t flags;
  uint8_t *public_key;
  size_t public_key_len;
  uint8_t *key_handle;
  size_t key_handle_len;
  uint8_t *signature;
  size_t signature_len;
  uint8_t *attestation_cert;
  size_t attestation_cert_len;
  uint8_t *authdata;
  size_t authdata_len;
};

struct sk_sign_response {
  uint8_t flags;
  uint32_t counter;
  uint8_t *sig_r;
  size_t sig_r_len;
  uint8_t *sig_s;
  size_t sig_s_len;
};

struct sk_resident_key {
  uint32_t alg;
  size_t slot;
  char *application;
  struct sk_enroll_response key;
  uint8_t flags;
  uint8_t *user_id;
  size_t user_id_len;
};

struct sk_option {
  char *name;
  char *value;
  uint8_t required;
};

#define SOFT_SK_EXPORT __attribute__((visibility("default")))

SOFT_SK_EXPORT uint32_t sk_api_version(void);
SOFT_SK_EXPORT int sk_enroll(uint32_t alg, const uint8_t *challenge,
                             size_t challenge_len, const char *application,
                             uint8_t flags, const char *pin,
                             struct sk_option **options,
                             struct sk_enroll_response **enroll_response);
SOFT_SK_EXPORT int sk_sign(uint32_t alg, const uint8_t *data, size_t data_len,
                           const char *application, const uint8_t *key_handle,
                           size_t key_handle_len, uint8_t flags,
                           const char *pin, struct sk_option **options,
                           struct sk_sign_response **sign_response);
SOFT_SK_EXPORT int sk_load_resident_keys(const char *pin,
                                         struct sk_option **options,
                                         struct sk_resident_key ***rks,
                                         size_t *nrks);

enum {
  kSeedLen = 32,
  kEd25519PubLen = 32,
  kEd25519SigLen = 64,
  kP256PointLen = 65, /* 0x04 || X || Y */
  kSha256Len = 32,
  kMessageLen = kSha256Len + 1 + 4 + kSha256Len,
};

/* Returns a malloc'd copy of LEN bytes, or NULL. */
static uint8_t *Dup(const uint8_t *p, size_t len) {
  uint8_t *r = malloc(len == 0 ? 1 : len);
  if (r != NULL && len > 0) memcpy(r, p, len);
  return r;
}

/* Options we may be given: "device" (a path) and "user" (for resident keys).
 * Both are meaningless here and ignored; anything else that is required is
 * refused, as a real middleware would. */
static int CheckOptions(struct sk_option **options) {
  if (options == NULL) return 0;
  for (size_t i = 0; options[i] != NULL; i++) {
    const char *name = options[i]->name;
    if (name != NULL &&
        (strcmp(name, "device") == 0 || strcmp(name, "user") == 0))
      continue;
    if (options[i]->required) return SOFT_SK_ERR_UNSUPPORTED;
  }
  return 0;
}

static int Sha256(const void *p, size_t len, uint8_t out[kSha256Len]) {
  unsigned int out_len = 0;
  if (EVP_Digest(p, len, out, &out_len, EVP_sha256(), NULL) != 1 ||
      out_len != kSha256Len)
    return -1;
  return 0;
}

/* The authenticator-side flags for a signature: user presence unless the
 * test asked for an untouched key. */
static uint8_t SignatureFlags(void) {
  const char *no_touch = getenv("SOFT_SK_NO_TOUCH");
  if (no_touch != NULL && strcmp(no_touch, "1") == 0) return 0;
  return SOFT_SK_FLAG_USER_PRESENCE;
}

/* A counter that only goes forward across processes, like a real key's. */
static uint32_t NextCounter(void) {
  static uint32_t last;
  uint32_t now = (uint32_t)time(NULL);
  last = now > last ? now : last + 1;
  return last;
}

static void FreeEnrollResponse(struct sk_enroll_response *r) {
  if (r == NULL) return;
  free(r->public_key);
  if (r->key_handle != NULL) OPENSSL_cleanse(r->key_handle, r->key_handle_len);
  free(r->key_handle);
  free(r->signature);
  free(r->attestation_cert);
  free(r->authdata);
  free(r);
}

static void FreeSignResponse(struct sk_sign_response *r) {
  if (r == NULL) return;
  free(r->sig_r);
  free(r->sig_s);
  free(r);
}

/* ---- ed25519 ---- */

static int EnrollEd25519(struct sk_enroll_response *resp) {
  uint8_t seed[kSeedLen];
  uint8_t pub[kEd25519PubLen];
  size_t pub_len = sizeof(pub);
  EVP_PKEY *pkey = NULL;
  int ret = SOFT_SK_ERR_GENERAL;

  if (RAND_bytes(seed, sizeof(seed)) != 1) goto out;
  pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed,
                                      sizeof(seed));
  if (pkey == NULL ||
      EVP_PKEY_get_raw_public_key(pkey, pub, &pub_len) != 1 ||
      pub_len != kEd25519PubLen)
    goto out;
  if ((resp->public_key = Dup(pub, pub_len)) == NULL ||
      (resp->key_handle = Dup(seed, sizeof(seed))) == NULL)
    goto out;
  resp->public_key_len = pub_len;
  resp->key_handle_len = sizeof(seed);
  ret = 0;
out:
  OPENSSL_cleanse(seed, sizeof(seed));
  EVP_PKEY_free(pkey);
  return ret;
}

static int SignEd25519(const uint8_t *message, size_t message_len,
                       const uint8_t *key_handle, size_t key_handle_len,
                       struct sk_sign_response *resp) {
  uint8_t sig[kEd25519SigLen];
  size_t sig_len = sizeof(sig);
  EVP_PKEY *pkey = NULL;
  EVP_MD_CTX *ctx = NULL;
  int ret = SOFT_SK_ERR_GENERAL;

  if (key_handle_len != kSeedLen) goto out;
  pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key_handle,
                                      key_handle_len);
  if (pkey == NULL || (ctx = EVP_MD_CTX_new()) == NULL ||
      EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1 ||
      EVP_DigestSign(ctx, sig, &sig_len, message, message_len) != 1 ||
      sig_len != kEd25519SigLen)
    goto out;
  if ((resp->sig_r = Dup(sig, sig_len)) == NULL) goto out;
  resp->sig_r_len = sig_len;
  ret = 0;
out:
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ret;
}

/* ---- ecdsa P-256 ---- */

static int EnrollEcdsa(struct sk_enroll_response *resp) {
  EVP_PKEY *pkey = EVP_EC_gen("P-256");
  uint8_t pub[kP256PointLen];
  size_t pub_len = 0;
  unsigned char *der = NULL;
  int der_len;
  int ret = SOFT_SK_ERR_GENERAL;

  if (pkey == NULL) goto out;
  if (EVP_PKEY_get_octet_string_param(pkey,
                                      OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
                                      sizeof(pub), &pub_len) != 1 ||
      pub_len != kP256PointLen || pub[0] != 0x04)
    goto out;
  if ((der_len = i2d_PrivateKey(pkey, &der)) <= 0) goto out;
  if ((resp->public_key = Dup(pub, pub_len)) == NULL ||
      (resp->key_handle = Dup(der, (size_t)der_len)) == NULL)
    goto out;
  resp->public_key_len = pub_len;
  resp->key_handle_len = (size_t)der_len;
  ret = 0;
out:
  if (der != NULL) OPENSSL_clear_free(der, (size_t)der_len);
  EVP_PKEY_free(pkey);
  return ret;
}

/* Stores BN as unsigned big-endian bytes, as OpenSSH expects for r and s. */
static int PutBignum(const BIGNUM *bn, uint8_t **out, size_t *out_len) {
  int n = BN_num_bytes(bn);
  if (n <= 0) n = 1;
  if ((*out = calloc(1, (size_t)n)) == NULL) return -1;
  if (BN_bn2binpad(bn, *out, n) != n) return -1;
  *out_len = (size_t)n;
  return 0;
}

static int SignEcdsa(const uint8_t *message, size_t message_len,
                     const uint8_t *key_handle, size_t key_handle_len,
                     struct sk_sign_response *resp) {
  const unsigned char *p = key_handle;
  EVP_PKEY *pkey = NULL;
  EVP_MD_CTX *ctx = NULL;
  ECDSA_SIG *esig = NULL;
  unsigned char *der = NULL;
  const unsigned char *q;
  size_t der_len = 0;
  int ret = SOFT_SK_ERR_GENERAL;

  if (key_handle_len == 0 || key_handle_len > 4096) goto out;
  pkey = d2i_AutoPrivateKey(NULL, &p, (long)key_handle_len);
  if (pkey == NULL || p != key_handle + key_handle_len ||
      !EVP_PKEY_is_a(pkey, "EC"))
    goto out;
  if ((ctx = EVP_MD_CTX_new()) == NULL ||
      EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) != 1 ||
      EVP_DigestSign(ctx, NULL, &der_len, message, message_len) != 1 ||
      (der = malloc(der_len)) == NULL ||
      EVP_DigestSign(ctx, der, &der_len, message, message_len) != 1)
    goto out;
  q = der;
  if ((esig = d2i_ECDSA_SIG(NULL, &q, (long)der_len)) == NULL) goto out;
  if (PutBignum(ECDSA_SIG_get0_r(esig), &resp->sig_r, &resp->sig_r_len) != 0 ||
      PutBignum(ECDSA_SIG_get0_s(esig), &resp->sig_s, &resp->sig_s_len) != 0)
    goto out;
  ret = 0;
out:
  ECDSA_SIG_free(esig);
  free(der);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  return ret;
}

/* ---- the middleware entry points ---- */

uint32_t sk_api_version(void) { return SOFT_SK_API_VERSION; }

int sk_enroll(uint32_t alg, const uint8_t *challenge, size_t challenge_len,
              const char *application, uint8_t flags, const char *pin,
              struct sk_option **options,
              struct sk_enroll_response **enroll_response) {
  struct sk_enroll_response *resp = NULL;
  int ret;

  /* No attestation is produced, so the challenge is unused; a PIN is
   * accepted and ignored (there is nothing to unlock). */
  (void)challenge;
  (void)challenge_len;
  (void)pin;
  if (enroll_response == NULL) return SOFT_SK_ERR_GENERAL;
  *enroll_response = NULL;
  if (application == NULL || *application == '\0') return SOFT_SK_ERR_GENERAL;
  if ((ret = CheckOptions(options)) != 0) return ret;
  if ((resp = calloc(1, sizeof(*resp))) == NULL) return SOFT_SK_ERR_GENERAL;
  switch (alg) {
    case SOFT_SK_ALG_ED25519:
      ret = EnrollEd25519(resp);
      break;
    case SOFT_SK_ALG_ECDSA:
      ret = EnrollEcdsa(resp);
      break;
    default:
      ret = SOFT_SK_ERR_UNSUPPORTED;
      break;
  }
  if (ret != 0) {
    FreeEnrollResponse(resp);
    return ret;
  }
  resp->flags = flags;
  *enroll_response = resp;
  return 0;
}

int sk_sign(uint32_t alg, const uint8_t *data, size_t data_len,
            const char *application, const uint8_t *key_handle,
            size_t key_handle_len, uint8_t flags, const char *pin,
            struct sk_option **options,
            struct sk_sign_response **sign_response) {
  struct sk_sign_response *resp = NULL;
  uint8_t message[kMessageLen];
  uint8_t *m = message;
  int ret;

  /* FLAGS are the key's requirements (touch, PIN); this device always
   * "touches" unless SOFT_SK_NO_TOUCH says otherwise. */
  (void)flags;
  (void)pin;
  if (sign_response == NULL) return SOFT_SK_ERR_GENERAL;
  *sign_response = NULL;
  if (data == NULL || application == NULL || key_handle == NULL)
    return SOFT_SK_ERR_GENERAL;
  if ((ret = CheckOptions(options)) != 0) return ret;
  if ((resp = calloc(1, sizeof(*resp))) == NULL) return SOFT_SK_ERR_GENERAL;
  resp->flags = SignatureFlags();
  resp->counter = NextCounter();

  if (Sha256(application, strlen(application), m) != 0) goto fail;
  m += kSha256Len;
  *m++ = resp->flags;
  *m++ = (uint8_t)(resp->counter >> 24);
  *m++ = (uint8_t)(resp->counter >> 16);
  *m++ = (uint8_t)(resp->counter >> 8);
  *m++ = (uint8_t)resp->counter;
  if (Sha256(data, data_len, m) != 0) goto fail;

  switch (alg) {
    case SOFT_SK_ALG_ED25519:
      ret = SignEd25519(message, sizeof(message), key_handle, key_handle_len,
                        resp);
      break;
    case SOFT_SK_ALG_ECDSA:
      ret = SignEcdsa(message, sizeof(message), key_handle, key_handle_len,
                      resp);
      break;
    default:
      ret = SOFT_SK_ERR_UNSUPPORTED;
      break;
  }
  if (ret != 0) {
    FreeSignResponse(resp);
    return ret;
  }
  *sign_response = resp;
  return 0;
fail:
  FreeSignResponse(resp);
  return SOFT_SK_ERR_GENERAL;
}

int sk_load_resident_keys(const char *pin, struct sk_option **options,
                          struct sk_resident_key ***rks, size_t *nrks) {
  int ret;

  (void)pin;
  if (rks == NULL || nrks == NULL) return SOFT_SK_ERR_GENERAL;
  *rks = NULL;
  *nrks = 0;
  if ((ret = CheckOptions(options)) != 0) return ret;
  return 0;
}
