// lint_certs.h: certificates for the lint rules' tests, written with our DER writer: a TLS
// server TBSCertificate that passes every rule, and for each rule a change that breaks it and
// only it (Cases()). The unit tests run them through LintTbs; the CLI tests through
// `certpress lint`. A rule without a case here fails LintTest.EveryRuleHasACaseAndAUniqueName.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "signer/der.h"
#include "signer/key_type.h"
#include "signer/lint.h"
#include "signer/name.h"

namespace certpress::testing {

inline Bytes Oid(const std::string& dotted) {
  auto o = der::EncodeOid(dotted);
  EXPECT_TRUE(o.ok()) << dotted;
  return *o;
}

inline Bytes Seq(const std::function<void(der::Writer&)>& body) {
  der::Writer w;
  size_t s = w.Begin(der::kSequence);
  body(w);
  w.End(s);
  return w.Take();
}

inline Bytes KeyUsage(std::initializer_list<int> bits) {
  uint8_t b[2] = {0, 0};
  int highest = -1;
  for (int bit : bits) {
    b[bit / 8] |= static_cast<uint8_t>(0x80 >> (bit % 8));
    highest = std::max(highest, bit);
  }
  der::Writer w;
  if (highest < 0) {
    w.BitString(ByteSpan(b, 1), 7);  // no bit set (e_ext_key_usage_without_bits)
  } else {
    w.BitString(ByteSpan(b, static_cast<size_t>(highest / 8 + 1)),
                static_cast<uint8_t>(7 - highest % 8));
  }
  return w.Take();
}

inline Bytes EkuValue(std::initializer_list<const char*> oids) {
  return Seq([&](der::Writer& v) {
    for (const char* o : oids) v.OidContent(Oid(o));
  });
}

// GeneralNames of (context tag number, value).
inline Bytes Names(const std::vector<std::pair<int, Bytes>>& names) {
  return Seq([&](der::Writer& v) {
    for (const auto& [tag, value] : names) v.Primitive(der::ContextPrimitive(tag), value);
  });
}

inline Bytes Str(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

inline Bytes CrlDp(const std::string& url) {
  return Seq([&](der::Writer& v) {
    size_t dp = v.Begin(der::kSequence);
    size_t dpn = v.Begin(der::ContextConstructed(0));
    size_t full = v.Begin(der::ContextConstructed(0));
    v.Primitive(der::ContextPrimitive(6), Str(url));
    v.End(full);
    v.End(dpn);
    v.End(dp);
  });
}

inline Bytes Aia(const std::string& ocsp, const std::string& ca_issuers) {
  return Seq([&](der::Writer& v) {
    auto add = [&](const char* method, const std::string& url) {
      size_t ad = v.Begin(der::kSequence);
      v.OidContent(Oid(method));
      v.Primitive(der::ContextPrimitive(6), Str(url));
      v.End(ad);
    };
    add("1.3.6.1.5.5.7.48.1", ocsp);
    add("1.3.6.1.5.5.7.48.2", ca_issuers);
  });
}

inline Bytes OctetString(const Bytes& b) {
  der::Writer w;
  w.Primitive(der::kOctetString, b);
  return w.Take();
}

inline Bytes AkiValue(const Bytes& key_id) {
  return Seq([&](der::Writer& v) { v.Primitive(der::ContextPrimitive(0), key_id); });
}

inline const Bytes& EcSpki() {
  static const Bytes spki = [] {
    auto key = GenerateSoftKey(KeyType::kEcP256);
    return *SpkiDer(key->get());
  }();
  return spki;
}

inline const Bytes& RsaSpki() {
  static const Bytes spki = [] {
    auto key = GenerateSoftKey(KeyType::kRsa2048);
    return *SpkiDer(key->get());
  }();
  return spki;
}

// RsaSpkiWith is an RSA key with the given modulus and exponent (INTEGER contents), with
// NULL parameters unless |null_params| is false. The lint does not check that n factors.
inline Bytes RsaSpkiWith(const Bytes& n, const Bytes& e, bool null_params = true) {
  der::Writer key;
  size_t k = key.Begin(der::kSequence);
  key.Primitive(der::kInteger, n);
  key.Primitive(der::kInteger, e);
  key.End(k);
  return Seq([&](der::Writer& w) {
    size_t a = w.Begin(der::kSequence);
    w.OidContent(Oid("1.2.840.113549.1.1.1"));
    if (null_params) w.Null();
    w.End(a);
    w.BitString(key.bytes());
  });
}

// A modulus of |bits| bits (a sign octet first), odd unless |even|.
inline Bytes Modulus(int bits, bool even = false) {
  Bytes n(static_cast<size_t>(bits / 8) + 1, 0x5b);
  n[0] = 0x00;
  n[1] = 0xc5;
  n.back() = even ? 0x5a : 0x5b;
  return n;
}

// EcSpkiWith replaces the algorithm parameters and/or the point of the EC key.
inline Bytes EcSpkiWith(const Bytes* params, bool compress) {
  der::Reader r(EcSpki());
  ByteSpan body, alg, bits, oid, curve;
  EXPECT_TRUE(r.Read(der::kSequence, &body));
  der::Reader b(body);
  EXPECT_TRUE(b.Read(der::kSequence, &alg) && b.Read(der::kBitString, &bits));
  der::Reader a(alg);
  EXPECT_TRUE(a.Read(der::kOid, &oid) && a.Read(der::kOid, &curve));
  Bytes point(bits.begin() + 1, bits.end());
  if (compress) {
    Bytes c(point.begin(), point.begin() + 33);
    c[0] = static_cast<uint8_t>(0x02 | (point.back() & 1));
    point = c;
  }
  return Seq([&](der::Writer& w) {
    size_t s = w.Begin(der::kSequence);
    w.OidContent(oid);
    if (params) {
      w.Raw(*params);
    } else {
      w.OidContent(curve);
    }
    w.End(s);
    w.BitString(point);
  });
}

inline const Bytes kIssuerSki(20, 0x11);

struct Extension {
  std::string oid;
  bool critical = false;
  Bytes value;
};

// Tbs is a TLS server certificate by default that passes every rule.
struct Tbs {
  int version = 3;
  Bytes serial = {0x01, 0x23, 0x45};
  Bytes sig_alg = Bytes(SignatureAlgorithmDer(KeyType::kEcP256).begin(),
                        SignatureAlgorithmDer(KeyType::kEcP256).end());
  Bytes issuer = *EncodeName(*ParseName("CN=Issuing CA,O=CertPress,C=DK"));
  time_t not_before = 1700000000;
  time_t not_after = 1700000000 + 365 * 86400;
  bool generalized_not_before = false;
  // A notBefore written as given (tag, content), for the time-encoding rules.
  uint8_t raw_not_before_tag = 0;
  std::string raw_not_before;
  // The Certificate's outer signatureAlgorithm (empty: the TBS's).
  Bytes cert_sig_alg;
  Bytes subject = *EncodeName(*ParseName("CN=host.example.org,O=CertPress,C=DK"));
  Bytes spki = EcSpki();
  std::vector<Extension> exts = {
      {"2.5.29.19", true, Seq([](der::Writer&) {})},
      {"2.5.29.15", true, KeyUsage({0})},
      {"2.5.29.37", false, EkuValue({"1.3.6.1.5.5.7.3.1"})},
      {"2.5.29.14", false, OctetString(Bytes(20, 0x22))},
      {"2.5.29.35", false, AkiValue(kIssuerSki)},
      {"2.5.29.17", false, Names({{2, Str("host.example.org")}, {2, Str("www.example.org")}})},
      {"2.5.29.31", false, CrlDp("http://pki.example.org/issuing.crl")},
      {"1.3.6.1.5.5.7.1.1", false,
       Aia("http://ocsp.example.org", "http://pki.example.org/issuing.crt")},
  };

  Extension* Find(const std::string& oid) {
    for (auto& e : exts) {
      if (e.oid == oid) return &e;
    }
    return nullptr;
  }
  void Remove(const std::string& oid) {
    std::erase_if(exts, [&](const Extension& e) { return e.oid == oid; });
  }
  void Set(const std::string& oid, bool critical, Bytes value) {
    Extension* e = Find(oid);
    if (e == nullptr) {
      exts.push_back({oid, critical, std::move(value)});
    } else {
      e->critical = critical;
      e->value = std::move(value);
    }
  }
  void SetSans(const std::vector<std::pair<int, Bytes>>& names) {
    Set("2.5.29.17", false, Names(names));
  }
  // MakeSmime turns the certificate into an employee email certificate (S/MIME BR) that
  // passes every rule.
  void MakeSmime() {
    Set("2.5.29.37", false, EkuValue({"1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"}));
    SetSans({{1, Str("ada@example.org")}});
    subject = *EncodeName(*ParseName("CN=Ada Lovelace,O=CertPress,C=DK"));
  }
  // MakeCa turns the certificate into a CA certificate that passes every rule.
  void MakeCa() {
    Set("2.5.29.19", true, Seq([](der::Writer& v) { v.Boolean(true); }));
    Set("2.5.29.15", true, KeyUsage({0, 5, 6}));
    Remove("2.5.29.37");
    Remove("2.5.29.17");
    subject = *EncodeName(*ParseName("CN=Sub CA,O=CertPress,C=DK"));
  }

  Bytes Encode() const {
    der::Writer w;
    size_t tbs = w.Begin(der::kSequence);
    size_t ver = w.Begin(der::ContextConstructed(0));
    w.SmallInteger(static_cast<uint64_t>(version - 1));
    w.End(ver);
    w.Primitive(der::kInteger, serial);  // content as given: tests write bad serials
    w.Raw(sig_alg);
    w.Raw(issuer);
    size_t validity = w.Begin(der::kSequence);
    if (raw_not_before_tag != 0) {
      w.Primitive(raw_not_before_tag, Str(raw_not_before));
    } else if (generalized_not_before) {
      struct tm tm;
      gmtime_r(&not_before, &tm);
      char buf[32];
      strftime(buf, sizeof buf, "%Y%m%d%H%M%SZ", &tm);
      w.Primitive(der::kGeneralizedTime, Str(buf));
    } else {
      w.Time(not_before);
    }
    w.Time(not_after);
    w.End(validity);
    w.Raw(subject);
    w.Raw(spki);
    size_t eo = w.Begin(der::ContextConstructed(3));
    size_t es = w.Begin(der::kSequence);
    for (const auto& e : exts) {
      size_t x = w.Begin(der::kSequence);
      w.OidContent(Oid(e.oid));
      if (e.critical) w.Boolean(true);
      w.Primitive(der::kOctetString, e.value);
      w.End(x);
    }
    w.End(es);
    w.End(eo);
    w.End(tbs);
    return w.Take();
  }
};

inline LintOptions DefaultOptions() {
  LintOptions o;
  static const Bytes sig(SignatureAlgorithmDer(KeyType::kEcP256).begin(),
                         SignatureAlgorithmDer(KeyType::kEcP256).end());
  o.expected_sig_alg = sig;
  o.issuer_ski = kIssuerSki;
  o.max_validity_days = 397;
  return o;
}

struct Case {
  const char* rule;
  std::function<void(Tbs&, LintOptions&)> breaks;
};

inline const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"cp_asn1_structure", [](Tbs& t, LintOptions&) { t.sig_alg.clear(); }},
      {"e_cert_ext_invalid_der",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.17", false, Bytes{0x30, 0x05, 0x82});
       }},
      {"e_invalid_certificate_version", [](Tbs& t, LintOptions&) { t.version = 2; }},
      {"e_serial_number_longer_than_20_octets",
       [](Tbs& t, LintOptions&) { t.serial = Bytes(21, 0x01); }},
      {"e_serial_number_not_positive",
       [](Tbs& t, LintOptions&) {
         t.serial = {0x80, 0x01};
       }},
      {"cp_signature_algorithm_not_ca_key",
       [](Tbs& t, LintOptions&) {
         auto rsa = SignatureAlgorithmDer(KeyType::kRsa2048);
         t.sig_alg.assign(rsa.begin(), rsa.end());
       }},
      {"e_issuer_field_empty",
       [](Tbs& t, LintOptions&) {
         t.issuer = {0x30, 0x00};
       }},
      {"cp_name_attribute_encoding",
       [](Tbs& t, LintOptions&) {
         // CN as a PrintableString holding '@', outside its alphabet.
         t.subject = Seq([](der::Writer& w) {
           size_t set = w.Begin(der::kSet);
           size_t ava = w.Begin(der::kSequence);
           w.OidContent(Oid("2.5.4.3"));
           w.Primitive(der::kPrintableString, Str("host@example.org"));
           w.End(ava);
           w.End(set);
         });
         t.SetSans({{2, Str("host.example.org")}});
       }},
      {"e_wrong_time_format_pre2050",
       [](Tbs& t, LintOptions&) { t.generalized_not_before = true; }},
      {"e_validity_time_not_positive", [](Tbs& t, LintOptions&) { t.not_after = t.not_before; }},
      {"cp_validity_outside_issuer",
       [](Tbs& t, LintOptions& o) { o.issuer_not_before = t.not_before + 1; }},
      {"cp_eku_not_profile",
       [](Tbs&, LintOptions& o) { o.profile_ekus = {{Oid("1.3.6.1.5.5.7.3.2")}}; }},
      {"cp_validity_longer_than_profile", [](Tbs&, LintOptions& o) { o.max_validity_days = 30; }},
      {"e_tls_server_cert_valid_time_longer_than_398_days",
       [](Tbs& t, LintOptions& o) {
         o.max_validity_days = 0;
         t.not_after = t.not_before + 398 * 86400;
       }},
      {"e_ext_duplicate_extension",
       [](Tbs& t, LintOptions&) { t.exts.push_back(*t.Find("2.5.29.14")); }},
      {"cp_ext_unknown_critical",
       [](Tbs& t, LintOptions&) { t.Set("1.3.6.1.4.1.55555.9", true, OctetString({1})); }},
      {"e_basic_constraints_not_critical",
       [](Tbs& t, LintOptions&) {
         t.MakeCa();
         t.Find("2.5.29.19")->critical = false;
       }},
      {"e_path_len_constraint_improperly_included",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.19", true, Seq([](der::Writer& v) { v.SmallInteger(0); }));
       }},
      {"e_ext_key_usage_without_bits",
       [](Tbs& t, LintOptions&) { t.Set("2.5.29.15", true, KeyUsage({})); }},
      {"w_ext_key_usage_not_critical",
       [](Tbs& t, LintOptions&) { t.Find("2.5.29.15")->critical = false; }},
      {"e_ext_key_usage_cert_sign_without_ca",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.15", true, KeyUsage({0, 5}));
       }},
      {"e_ca_key_cert_sign_not_set",
       [](Tbs& t, LintOptions&) {
         t.MakeCa();
         t.Set("2.5.29.15", true, KeyUsage({0, 6}));
       }},
      {"e_sub_cert_key_usage_crl_sign_bit_set",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.15", true, KeyUsage({0, 6}));
       }},
      {"e_ecdsa_allowed_ku",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.15", true, KeyUsage({0, 2}));
       }},
      {"e_rsa_allowed_ku_ee",
       [](Tbs& t, LintOptions&) {
         t.spki = RsaSpki();
         t.Set("2.5.29.15", true, KeyUsage({0, 4}));
       }},
      {"e_key_usage_and_extended_key_usage_inconsistent",
       [](Tbs& t, LintOptions&) { t.Set("2.5.29.15", true, KeyUsage({1})); }},
      {"e_sub_cert_eku_missing", [](Tbs& t, LintOptions&) { t.Remove("2.5.29.37"); }},
      {"e_ext_subject_key_identifier_missing_ca",
       [](Tbs& t, LintOptions&) {
         t.MakeCa();
         t.Remove("2.5.29.14");
       }},
      {"w_ext_subject_key_identifier_missing_sub_cert",
       [](Tbs& t, LintOptions&) { t.Remove("2.5.29.14"); }},
      {"e_ext_authority_key_identifier_no_key_identifier",
       [](Tbs& t, LintOptions&) { t.Remove("2.5.29.35"); }},
      {"cp_aki_not_issuer_ski",
       [](Tbs& t, LintOptions&) { t.Set("2.5.29.35", false, AkiValue(Bytes(20, 0x33))); }},
      {"e_subject_empty_without_san",
       [](Tbs& t, LintOptions&) {
         t.subject = {0x30, 0x00};
         t.Remove("2.5.29.17");
       }},
      {"e_ext_san_not_critical_without_subject",
       [](Tbs& t, LintOptions&) {
         t.subject = {0x30, 0x00};
       }},
      {"e_dnsname_bad_character_in_label",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {2, Str("a_b.example.org")}});
       }},
      {"e_dnsname_empty_label",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {2, Str("a..example.org")}});
       }},
      {"e_dnsname_label_too_long",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {2, Str(std::string(64, 'a') + ".org")}});
       }},
      {"e_ext_san_dns_name_too_long",
       [](Tbs& t, LintOptions&) {
         const std::string l(63, 'a');
         t.SetSans({{2, Str("host.example.org")}, {2, Str(l + "." + l + "." + l + "." + l)}});
       }},
      {"cp_dnsname_is_ip_address",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {2, Str("192.0.2.1")}});
       }},
      {"e_dnsname_not_valid_tld",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {2, Str("printer.internal")}});
       }},
      {"e_ext_san_contains_reserved_ip",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {7, Bytes{10, 0, 0, 1}}});
       }},
      {"e_subject_common_name_not_exactly_from_san",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("www.example.org")}});
       }},
      {"w_distribution_point_missing_ldap_or_uri",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.31", false, CrlDp("ftp://pki.example.org/issuing.crl"));
       }},
      {"e_crl_distrib_points_not_http",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.31", false, CrlDp("ldap://ldap.example.org/cn=crl"));
       }},
      {"e_aia_ocsp_must_have_http_only",
       [](Tbs& t, LintOptions&) {
         t.Set("1.3.6.1.5.5.7.1.1", false,
               Aia("http://ocsp example.org", "http://pki.example.org/issuing.crt"));
       }},
      {"e_aia_ca_issuers_must_have_http_only",
       [](Tbs& t, LintOptions&) {
         t.Set("1.3.6.1.5.5.7.1.1", false,
               Aia("http://ocsp.example.org", "https://pki.example.org/issuing.crt"));
       }},
      {"e_ec_improper_curves",
       [](Tbs& t, LintOptions&) {
         // specifiedCurve (RFC 5480 2.1.1: MUST NOT be used); the content does not matter.
         const Bytes explicit_params = Seq([](der::Writer& v) { v.SmallInteger(1); });
         t.spki = EcSpkiWith(&explicit_params, false);
       }},
      {"cp_ec_point_not_uncompressed",
       [](Tbs& t, LintOptions&) { t.spki = EcSpkiWith(nullptr, true); }},
      {"e_cert_sig_alg_not_match_tbs_sig_alg",
       [](Tbs& t, LintOptions&) {
         auto rsa = SignatureAlgorithmDer(KeyType::kRsa2048);
         t.cert_sig_alg.assign(rsa.begin(), rsa.end());
       }},
      {"e_ext_authority_key_identifier_critical",
       [](Tbs& t, LintOptions&) { t.Find("2.5.29.35")->critical = true; }},
      {"e_ext_subject_key_identifier_critical",
       [](Tbs& t, LintOptions&) { t.Find("2.5.29.14")->critical = true; }},
      {"e_ext_aia_marked_critical",
       [](Tbs& t, LintOptions&) { t.Find("1.3.6.1.5.5.7.1.1")->critical = true; }},
      {"w_ext_crl_distribution_marked_critical",
       [](Tbs& t, LintOptions&) { t.Find("2.5.29.31")->critical = true; }},
      {"e_ext_san_no_entries", [](Tbs& t, LintOptions&) { t.SetSans({}); }},
      {"e_ext_san_empty_name",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {2, Str("")}});
       }},
      {"e_ext_san_rfc822_format_invalid",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.SetSans({{1, Str("Ada Lovelace <ada@example.org>")}});
       }},
      {"e_ca_subject_field_empty",
       [](Tbs& t, LintOptions&) {
         t.MakeCa();
         t.subject = {0x30, 0x00};
       }},
      {"e_path_len_constraint_zero_or_less",
       [](Tbs& t, LintOptions&) {
         t.MakeCa();
         t.Set("2.5.29.19", true, Seq([](der::Writer& v) {
                 v.Boolean(true);
                 v.Primitive(der::kInteger, Bytes{0xff});  // -1
               }));
       }},
      {"e_ext_cert_policy_duplicate",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.32", false, Seq([](der::Writer& v) {
                 for (int i = 0; i < 2; ++i) {
                   size_t p = v.Begin(der::kSequence);
                   v.OidContent(Oid("2.23.140.1.2.1"));
                   v.End(p);
                 }
               }));
       }},
      {"e_utc_time_not_in_zulu",
       [](Tbs& t, LintOptions&) {
         t.raw_not_before_tag = der::kUtcTime;
         t.raw_not_before = "231114221320+0100";
       }},
      {"e_utc_time_does_not_include_seconds",
       [](Tbs& t, LintOptions&) {
         t.raw_not_before_tag = der::kUtcTime;
         t.raw_not_before = "2311142213Z";
       }},
      {"e_generalized_time_not_in_zulu",
       [](Tbs& t, LintOptions&) {
         t.raw_not_before_tag = der::kGeneralizedTime;
         t.raw_not_before = "20231114221320+0100";
       }},
      {"e_generalized_time_does_not_include_seconds",
       [](Tbs& t, LintOptions&) {
         t.raw_not_before_tag = der::kGeneralizedTime;
         t.raw_not_before = "202311142213Z";
       }},
      {"e_generalized_time_includes_fraction_seconds",
       [](Tbs& t, LintOptions&) {
         t.raw_not_before_tag = der::kGeneralizedTime;
         t.raw_not_before = "20231114221320.5Z";
       }},
      {"e_subj_email_not_in_san",
       [](Tbs& t, LintOptions&) {
         t.subject = *EncodeName(*ParseName(
             "CN=host.example.org,emailAddress=hostmaster@example.org,O=CertPress,C=DK"));
       }},
      {"e_subject_country_not_iso",
       [](Tbs& t, LintOptions&) {
         t.subject = *EncodeName(*ParseName("CN=host.example.org,O=CertPress,C=UK"));
       }},
      {"e_rsa_mod_less_than_2048_bits",
       [](Tbs& t, LintOptions&) {
         t.spki = RsaSpkiWith(Modulus(1024), {0x01, 0x00, 0x01});
       }},
      {"w_rsa_mod_not_odd",
       [](Tbs& t, LintOptions&) {
         t.spki = RsaSpkiWith(Modulus(2048, true), {0x01, 0x00, 0x01});
       }},
      {"e_rsa_public_exponent_not_odd",
       [](Tbs& t, LintOptions&) {
         t.spki = RsaSpkiWith(Modulus(2048), {0x01, 0x00, 0x00});
       }},
      {"e_rsa_public_exponent_too_small",
       [](Tbs& t, LintOptions&) { t.spki = RsaSpkiWith(Modulus(2048), {0x01}); }},
      {"w_rsa_public_exponent_not_in_range",
       [](Tbs& t, LintOptions&) { t.spki = RsaSpkiWith(Modulus(2048), {0x03}); }},
      {"e_spki_rsa_encryption_parameter_not_null",
       [](Tbs& t, LintOptions&) {
         t.spki = RsaSpkiWith(Modulus(2048), {0x01, 0x00, 0x01}, /*null_params=*/false);
       }},
      {"e_ext_san_missing", [](Tbs& t, LintOptions&) { t.Remove("2.5.29.17"); }},
      {"e_ext_san_rfc822_name_present",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {1, Str("hostmaster@example.org")}});
       }},
      {"e_ext_san_other_name_present",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.17", false, Seq([](der::Writer& v) {
                 v.Primitive(der::ContextPrimitive(2), Str("host.example.org"));
                 size_t o = v.Begin(der::ContextConstructed(0));
                 v.OidContent(Oid("1.3.6.1.4.1.311.20.2.3"));
                 size_t x = v.Begin(der::ContextConstructed(0));
                 v.Primitive(der::kUtf8String, Str("host@example.org"));
                 v.End(x);
                 v.End(o);
               }));
       }},
      {"e_ext_san_uniform_resource_identifier_present",
       [](Tbs& t, LintOptions&) {
         t.SetSans({{2, Str("host.example.org")}, {6, Str("https://host.example.org/")}});
       }},
      // BR 6.3.2 as ballot SC-081 changed it: 200, 100 and 47 days from 2026, 2027 and 2029.
      {"e_server_cert_valid_time_longer_than_200_days",
       [](Tbs& t, LintOptions&) {
         t.not_before = 1780272000;  // 2026-06-01
         t.not_after = t.not_before + 200 * 86400;
       }},
      {"w_server_cert_valid_time_longer_than_199_days",
       [](Tbs& t, LintOptions&) {
         t.not_before = 1780272000;
         t.not_after = t.not_before + 199 * 86400;
       }},
      {"e_server_cert_valid_time_longer_than_100_days",
       [](Tbs& t, LintOptions&) {
         t.not_before = 1811808000;  // 2027-06-01
         t.not_after = t.not_before + 100 * 86400;
       }},
      {"w_server_cert_valid_time_longer_than_99_days",
       [](Tbs& t, LintOptions&) {
         t.not_before = 1811808000;
         t.not_after = t.not_before + 99 * 86400;
       }},
      {"e_server_cert_valid_time_longer_than_47_days",
       [](Tbs& t, LintOptions&) {
         t.not_before = 1874966400;  // 2029-06-01
         t.not_after = t.not_before + 47 * 86400;
       }},
      {"w_server_cert_valid_time_longer_than_46_days",
       [](Tbs& t, LintOptions&) {
         t.not_before = 1874966400;
         t.not_after = t.not_before + 46 * 86400;
       }},
      {"e_sub_cert_aia_missing", [](Tbs& t, LintOptions&) { t.Remove("1.3.6.1.5.5.7.1.1"); }},
      {"e_organizational_unit_name_prohibited",
       [](Tbs& t, LintOptions&) {
         t.subject = *EncodeName(*ParseName("CN=host.example.org,OU=Web,O=CertPress,C=DK"));
       }},
      {"e_public_key_type_not_allowed",
       [](Tbs& t, LintOptions&) {
         t.spki = Seq([](der::Writer& w) {  // an Ed25519 key (RFC 8410)
           size_t a = w.Begin(der::kSequence);
           w.OidContent(Oid("1.3.101.112"));
           w.End(a);
           w.BitString(Bytes(32, 0x42));
         });
       }},
      {"e_sub_cert_eku_check",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.37", false, EkuValue({"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.3"}));
       }},
      {"e_missing_crl_distrib_point",
       [](Tbs& t, LintOptions&) {
         t.not_before = 1717200000;  // 2024-06-01, after ballot SC-063
         t.not_after = t.not_before + 90 * 86400;
         t.Remove("2.5.29.31");
         t.Set("1.3.6.1.5.5.7.1.1", false, Seq([](der::Writer& v) {  // caIssuers only
                 size_t ad = v.Begin(der::kSequence);
                 v.OidContent(Oid("1.3.6.1.5.5.7.48.2"));
                 v.Primitive(der::ContextPrimitive(6), Str("http://pki.example.org/issuing.crt"));
                 v.End(ad);
               }));
       }},
      {"e_sub_cert_basic_constraints_not_critical",
       [](Tbs& t, LintOptions&) { t.Find("2.5.29.19")->critical = false; }},
      {"e_eku_critical", [](Tbs& t, LintOptions&) { t.Find("2.5.29.37")->critical = true; }},
      {"w_ext_san_critical_with_subject_dn",
       [](Tbs& t, LintOptions&) { t.Find("2.5.29.17")->critical = true; }},
      {"e_ext_san_directory_name_present",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.17", false, Seq([](der::Writer& v) {
                 v.Primitive(der::ContextPrimitive(2), Str("host.example.org"));
                 size_t d = v.Begin(der::ContextConstructed(4));
                 v.Raw(*EncodeName(*ParseName("CN=host.example.org")));
                 v.End(d);
               }));
       }},
      {"e_ext_san_edi_party_name_present",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.17", false, Seq([](der::Writer& v) {
                 v.Primitive(der::ContextPrimitive(2), Str("host.example.org"));
                 size_t e = v.Begin(der::ContextConstructed(5));
                 size_t p = v.Begin(der::ContextConstructed(1));
                 v.Primitive(der::kUtf8String, Str("party"));
                 v.End(p);
                 v.End(e);
               }));
       }},
      {"e_ext_san_registered_id_present",
       [](Tbs& t, LintOptions&) {
         t.Set("2.5.29.17", false, Seq([](der::Writer& v) {
                 v.Primitive(der::ContextPrimitive(2), Str("host.example.org"));
                 v.Primitive(der::ContextPrimitive(8), Oid("1.3.6.1.4.1.55555.7"));
               }));
       }},
      {"e_key_usage_presence",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.Remove("2.5.29.15");
       }},
      // S/MIME BR, on the employee email certificate of MakeSmime.
      {"e_san_shall_be_present",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.Remove("2.5.29.17");
       }},
      {"cp_smime_san_without_mailbox",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.SetSans({{2, Str("host.example.org")}});
       }},
      {"w_san_should_not_be_critical",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.Find("2.5.29.17")->critical = true;
       }},
      {"e_subscribers_shall_have_crl_distribution_points",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.Remove("2.5.29.31");
       }},
      {"e_subscribers_crl_distribution_points_are_http",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.Set("2.5.29.31", false, CrlDp("ldap://ldap.example.org/cn=crl"));
       }},
      {"e_smime_legacy_multipurpose_eku_check",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.Set("2.5.29.37", false, EkuValue({"1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.3"}));
       }},
      {"e_ecpublickey_key_usages",
       [](Tbs& t, LintOptions&) {
         t.MakeSmime();
         t.Set("2.5.29.15", true, KeyUsage({1}));
       }},
  };
  return cases;
}

// Certificate wraps a TBS as a Certificate (RFC 5280 4.1) with a dummy signature: the lint
// reads structure, not signatures.
inline Bytes Certificate(const Bytes& tbs, const Bytes& sig_alg) {
  return Seq([&](der::Writer& w) {
    w.Raw(tbs);
    w.Raw(sig_alg);
    w.BitString(Bytes(8, 0x5a));
  });
}

// CertificateOf wraps |t| as a Certificate, with its outer signatureAlgorithm if it has one.
inline Bytes CertificateOf(const Tbs& t) {
  return Certificate(t.Encode(), t.cert_sig_alg.empty() ? t.sig_alg : t.cert_sig_alg);
}

}  // namespace certpress::testing
