// A throwaway PKI for TLS tests, made with the OpenSSL API in a temporary
// directory: a test CA, a server certificate for "localhost" signed by it
// (chain.pem + key.pem), another CA that trusts nothing of ours, and a few
// bad files. pki() makes it once per test binary. Used by
// tests/net/tls_stream_test.cpp and tests/net/dial_test.cpp.
#pragma once
#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "net/tls_context.hpp"

namespace wsring::net::test {

namespace fs = std::filesystem;

// ---- a throwaway PKI: CA → server certificate for localhost ---------------------

inline EVP_PKEY* make_key() { return EVP_EC_gen("P-256"); }

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    ASSERT_NE(ext, nullptr) << value;
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// A CA when `issuer` is null (self-signed), else a server certificate.
inline X509* make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key) {
    static long serial = 1;
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer ? issuer : x));
    X509* signer = issuer ? issuer : x;
    add_ext(x, signer, NID_subject_key_identifier, "hash");
    if (!issuer) {
        add_ext(x, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, signer, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, signer, NID_key_usage, "critical,digitalSignature");
        add_ext(x, signer, NID_ext_key_usage, "serverAuth");
        add_ext(x, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
        add_ext(x, signer, NID_authority_key_identifier, "keyid");
    }
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
}

inline void write_pem(const fs::path& p, X509* cert, EVP_PKEY* key, const char* passphrase = nullptr) {
    BIO* b = BIO_new_file(p.c_str(), "w");
    ASSERT_NE(b, nullptr);
    if (cert) PEM_write_bio_X509(b, cert);
    if (key && passphrase)
        PEM_write_bio_PKCS8PrivateKey(b, key, EVP_aes_256_cbc(), passphrase,
                                      static_cast<int>(std::strlen(passphrase)), nullptr, nullptr);
    else if (key)
        PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
    BIO_free(b);
}

struct test_pki {
    fs::path dir = fs::path(::testing::TempDir()) / ("wsring-tls-" + std::to_string(getpid()));
    EVP_PKEY* ca_key = make_key();
    EVP_PKEY* key = make_key();
    EVP_PKEY* other_key = make_key();
    X509* ca = make_cert(ca_key, "wsring test CA", nullptr, nullptr);
    X509* cert = make_cert(key, "localhost", ca, ca_key);
    X509* other_ca = make_cert(other_key, "some other CA", nullptr, nullptr);
    fs::path chain = dir / "chain.pem", key_file = dir / "key.pem", other_key_file = dir / "other.pem",
             enc_key_file = dir / "enc.pem", junk = dir / "junk.pem", ca_file = dir / "ca.pem",
             other_ca_file = dir / "other-ca.pem";
    std::optional<tls_context> ctx;

    test_pki() {
        fs::create_directories(dir);
        BIO* b = BIO_new_file(chain.c_str(), "w");  // server certificate, then the CA
        PEM_write_bio_X509(b, cert);
        PEM_write_bio_X509(b, ca);
        BIO_free(b);
        write_pem(key_file, nullptr, key);
        write_pem(other_key_file, nullptr, other_key);
        write_pem(enc_key_file, nullptr, key, "secret");
        std::ofstream(junk) << "this is not PEM\n";
        write_pem(ca_file, ca, nullptr);
        write_pem(other_ca_file, other_ca, nullptr);
        std::string why;
        ctx = tls_context::load(chain, key_file, why);
        EXPECT_TRUE(ctx) << why;
    }
    ~test_pki() {
        ctx.reset();
        X509_free(cert);
        X509_free(ca);
        X509_free(other_ca);
        EVP_PKEY_free(key);
        EVP_PKEY_free(other_key);
        EVP_PKEY_free(ca_key);
        fs::remove_all(dir);
    }
};

inline test_pki& pki() {
    static test_pki p;
    return p;
}

}  // namespace wsring::net::test
