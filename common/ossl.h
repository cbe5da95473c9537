// ossl.h: ownership of OpenSSL objects. One deleter per type, so that no code below calls a
// *_free function by hand (the idea of BoringSSL's bssl::UniquePtr).
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace certpress {

template <class T>
struct OsslDeleter;

#define CP_OSSL_DELETER(type, fn)             \
  template <>                                 \
  struct OsslDeleter<type> {                  \
    void operator()(type* p) const { fn(p); } \
  }

// Memory OpenSSL allocates for us (PEM names and data, ASN1_STRING_to_UTF8's output).
CP_OSSL_DELETER(char, OPENSSL_free);
CP_OSSL_DELETER(unsigned char, OPENSSL_free);
CP_OSSL_DELETER(BIO, BIO_free_all);
CP_OSSL_DELETER(BIGNUM, BN_free);
CP_OSSL_DELETER(EC_GROUP, EC_GROUP_free);
CP_OSSL_DELETER(ECDSA_SIG, ECDSA_SIG_free);
CP_OSSL_DELETER(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free);
CP_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
CP_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
CP_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
CP_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free);
CP_OSSL_DELETER(OSSL_PARAM, OSSL_PARAM_free);
CP_OSSL_DELETER(OSSL_PARAM_BLD, OSSL_PARAM_BLD_free);
CP_OSSL_DELETER(PKCS8_PRIV_KEY_INFO, PKCS8_PRIV_KEY_INFO_free);
CP_OSSL_DELETER(PKCS12, PKCS12_free);
CP_OSSL_DELETER(X509, X509_free);
CP_OSSL_DELETER(X509_CRL, X509_CRL_free);
CP_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
CP_OSSL_DELETER(X509_NAME, X509_NAME_free);
CP_OSSL_DELETER(X509_PUBKEY, X509_PUBKEY_free);
CP_OSSL_DELETER(X509_REQ, X509_REQ_free);
CP_OSSL_DELETER(X509_STORE, X509_STORE_free);
CP_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
CP_OSSL_DELETER(ASN1_INTEGER, ASN1_INTEGER_free);
CP_OSSL_DELETER(ASN1_OBJECT, ASN1_OBJECT_free);
// Stacks of X509 are shallow: the certificates stay owned by their own UniquePtr.
CP_OSSL_DELETER(STACK_OF(X509), sk_X509_free);
#undef CP_OSSL_DELETER

// Stacks of extensions own their elements.
template <>
struct OsslDeleter<STACK_OF(X509_EXTENSION)> {
  void operator()(STACK_OF(X509_EXTENSION) * p) const {
    sk_X509_EXTENSION_pop_free(p, X509_EXTENSION_free);
  }
};

template <class T>
using UniquePtr = std::unique_ptr<T, OsslDeleter<T>>;

// OpenSslErrors drains this thread's OpenSSL error queue into one line ("...; ..."), so that the
// detail ends up in a Status message and the queue is clean for the next call.
std::string OpenSslErrors();

// OsslError builds a Status of |kind| from |what| and the drained error queue.
Status OsslError(std::string_view what, ErrorKind kind = ErrorKind::kInternal);

}  // namespace certpress
