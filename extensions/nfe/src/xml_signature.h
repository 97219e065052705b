#pragma once

// The XML-DSig adapter of the verifier: the only place that includes
// xmlsec1 headers (and OpenSSL's X509 for the chain check).

#include <libxml/tree.h>

#include <ctime>
#include <string>
#include <string_view>

#include "fila/nfe/verifier.h"

namespace fila::nfe {

// XML-DSig's namespace.
inline constexpr std::string_view kDsigNs = "http://www.w3.org/2000/09/xmldsig#";

// Initialises libxml2 and xmlsec1 (OpenSSL engine) once per process; safe
// to call from any thread, any number of times. Throws nothing; a failed
// initialisation makes every later signature "signature_malformed:xmlsec_init".
void InitXmlSecurity();

// Verifies the enveloped signature `signature` (a ds:Signature element of
// `doc`) that must cover `signed_element` through a single Reference
// URI="#<its Id>". Registers that Id attribute as an ID of `doc` (so `doc`
// is modified; nothing else is). Only same-document references, the
// enveloped and C14N transforms, RSA-SHA1/RSA-SHA256 and SHA-1/SHA-256
// digests, and a key from the embedded X509Certificate are accepted;
// nothing is fetched. When `trust_bundle` names a PEM file, the embedded
// certificate's chain is checked against it at `signed_at` (0: now).
// Returns the verdict; never throws.
SignatureVerdict VerifyEnvelopedSignature(xmlDoc* doc, xmlNode* signature, xmlNode* signed_element,
                                          const std::string& trust_bundle, std::time_t signed_at);

// "2017-07-12T09:45:50-03:00" (or without the offset: UTC) as a time;
// 0 when it is not one.
std::time_t ParseXmlDateTime(const std::string& text);

}  // namespace fila::nfe
