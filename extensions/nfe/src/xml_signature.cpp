// XML-DSig verification with xmlsec1 (OpenSSL engine) on the tree libxml2
// parsed from the bytes as received.
#include "xml_signature.h"

#include <openssl/x509.h>
#include <xmlsec/base64.h>
#include <xmlsec/crypto.h>
#include <xmlsec/errors.h>
#include <xmlsec/io.h>
#include <xmlsec/keysmngr.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "certificate_chain.h"
#include "xml_tree.h"

namespace fila::nfe {
namespace {

using xml::Attr;
using xml::Child;


bool init_ok = false;

// xmlsec reports errors through one process-wide callback; each thread
// keeps the first message of its current verification.
thread_local std::string tls_first_error;

void CaptureError(const char*, int, const char*, const char* object, const char* subject, int reason,
                  const char* msg) {
  if (!tls_first_error.empty()) return;
  std::string text = msg != nullptr && *msg != '\0' ? msg : "error " + std::to_string(reason);
  if (subject != nullptr && std::strcmp(subject, "unknown") != 0) text += std::string(" (") + subject + ")";
  if (object != nullptr && std::strcmp(object, "unknown") != 0) text += std::string(" [") + object + "]";
  tls_first_error = text.substr(0, 200);
}

struct Algorithm {
  const char* uri;
  const char* name;
};
constexpr Algorithm kSignatureMethods[] = {
    {"http://www.w3.org/2000/09/xmldsig#rsa-sha1", "rsa-sha1"},
    {"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "rsa-sha256"},
};
constexpr const char* kDigests[] = {"http://www.w3.org/2000/09/xmldsig#sha1", "http://www.w3.org/2001/04/xmlenc#sha256"};
constexpr const char* kTransforms[] = {
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
};

template <typename List>
bool Listed(const List& list, const std::string& uri) {
  for (const auto& item : list) {
    if (uri == item) return true;
  }
  return false;
}

std::string Short(const std::string& uri) {
  const auto hash = uri.rfind('#');
  return hash == std::string::npos ? uri : uri.substr(hash + 1);
}

xmlNode* DsigChild(const xmlNode* parent, const char* local) {
  xmlNode* c = Child(parent, local);
  return xml::InNamespace(c, kDsigNs) ? c : nullptr;
}

// One keys manager per thread: xmlsec's simple keys store is not meant to
// be shared between concurrent verifications.
xmlSecKeysMngr* ThreadKeysManager() {
  struct Holder {
    xmlSecKeysMngrPtr mngr = nullptr;
    ~Holder() {
      if (mngr != nullptr) xmlSecKeysMngrDestroy(mngr);
    }
  };
  thread_local Holder holder;
  if (holder.mngr == nullptr) {
    xmlSecKeysMngrPtr m = xmlSecKeysMngrCreate();
    if (m != nullptr && xmlSecCryptoAppDefaultKeysMngrInit(m) < 0) {
      xmlSecKeysMngrDestroy(m);
      m = nullptr;
    }
    holder.mngr = m;
  }
  return holder.mngr;
}



X509Ptr DecodeCertificate(const xmlNode* node) {
  std::unique_ptr<xmlChar, decltype(xmlFree)> text(xmlNodeGetContent(node), xmlFree);
  if (!text) return X509Ptr(nullptr, X509_free);
  std::vector<xmlSecByte> der(std::strlen(reinterpret_cast<const char*>(text.get())) + 1);
  xmlSecSize size = 0;
  if (xmlSecBase64Decode_ex(text.get(), der.data(), static_cast<xmlSecSize>(der.size()), &size) < 0 || size == 0) {
    return X509Ptr(nullptr, X509_free);
  }
  const unsigned char* p = der.data();
  return X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(size)), X509_free);
}

// How many elements of the document carry Id="<id>" (a second one is how
// a signature-wrapping attack would point the signature elsewhere).
int CountId(xmlDoc* doc, const std::string& id) {
  int count = 0;
  std::vector<xmlNode*> stack{xmlDocGetRootElement(doc)};
  while (!stack.empty()) {
    xmlNode* n = stack.back();
    stack.pop_back();
    if (n == nullptr) continue;
    if (n->type == XML_ELEMENT_NODE && Attr(n, "Id") == id) ++count;
    for (xmlNode* c = n->children; c != nullptr; c = c->next) {
      if (c->type == XML_ELEMENT_NODE) stack.push_back(c);
    }
  }
  return count;
}

// The structure and algorithms xmlsec is allowed to see; "" when fine.
std::string Precheck(xmlDoc* doc, xmlNode* signature, const std::string& id, SignatureVerdict& v) {
  xmlNode* info = DsigChild(signature, "SignedInfo");
  if (info == nullptr) return "signature_malformed:SignedInfo";
  const std::string c14n = Attr(DsigChild(info, "CanonicalizationMethod"), "Algorithm");
  if (!Listed(kTransforms, c14n) || c14n == kTransforms[0]) return "signature_unsupported:" + Short(c14n);
  const std::string method = Attr(DsigChild(info, "SignatureMethod"), "Algorithm");
  v.algorithm = method;
  bool known = false;
  for (const auto& a : kSignatureMethods) {
    if (method == a.uri) {
      v.algorithm = a.name;
      known = true;
    }
  }
  if (!known) return "signature_unsupported:" + Short(method);
  int references = 0;
  xmlNode* reference = nullptr;
  for (xmlNode* c = info->children; c != nullptr; c = c->next) {
    if (xml::IsElement(c, "Reference")) {
      ++references;
      reference = c;
    }
  }
  if (references != 1) {
    v.detail = std::to_string(references) + " references (one is expected)";
    return "signature_reference";
  }
  // Only a reference to the element that was read: never "" (the whole
  // document), another element, or a URL.
  if (id.empty() || Attr(reference, "URI") != "#" + id) {
    v.detail = "the Reference URI is \"" + Attr(reference, "URI").substr(0, 80) + "\", not \"#" + id + "\"";
    return "signature_reference";
  }
  if (CountId(doc, id) != 1) {
    v.detail = "more than one element has Id \"" + id + "\"";
    return "signature_reference";
  }
  const std::string digest = Attr(DsigChild(reference, "DigestMethod"), "Algorithm");
  if (!Listed(kDigests, digest)) return "signature_unsupported:" + Short(digest);
  for (xmlNode* t = xml::FirstElement(DsigChild(reference, "Transforms")); t != nullptr; t = t->next) {
    if (t->type != XML_ELEMENT_NODE) continue;
    const std::string uri = Attr(t, "Algorithm");
    if (!Listed(kTransforms, uri)) return "signature_unsupported:" + Short(uri);
  }
  if (DsigChild(DsigChild(DsigChild(signature, "KeyInfo"), "X509Data"), "X509Certificate") == nullptr) {
    return "signature_malformed:certificate";
  }
  return {};
}

using DsigCtxPtr = std::unique_ptr<xmlSecDSigCtx, decltype(&xmlSecDSigCtxDestroy)>;

DsigCtxPtr MakeContext() {
  DsigCtxPtr ctx(xmlSecDSigCtxCreate(ThreadKeysManager()), xmlSecDSigCtxDestroy);
  if (!ctx) return ctx;
  ctx->flags |= XMLSEC_DSIG_FLAGS_STORE_SIGNEDINFO_REFERENCES | XMLSEC_DSIG_FLAGS_IGNORE_MANIFESTS;
  ctx->enabledReferenceUris = xmlSecTransformUriTypeSameDocument;
  // Integrity against the embedded certificate; its chain is checked
  // apart (CheckChain), so an untrusted signer is told from a forgery.
  ctx->keyInfoReadCtx.flags |= XMLSEC_KEYINFO_FLAGS_X509DATA_DONT_VERIFY_CERTS;
  ctx->keyInfoReadCtx.maxRetrievalMethodLevel = 0;
  ctx->keyInfoReadCtx.maxEncryptedKeyLevel = 0;
  bool ok = xmlSecPtrListAdd(&ctx->keyInfoReadCtx.enabledKeyData, const_cast<void*>(reinterpret_cast<const void*>(xmlSecKeyDataX509Id))) == 0;
  for (xmlSecTransformId id : {xmlSecTransformEnvelopedId, xmlSecTransformInclC14NId,
                               xmlSecTransformInclC14NWithCommentsId, xmlSecTransformExclC14NId,
                               xmlSecTransformExclC14NWithCommentsId, xmlSecTransformSha1Id, xmlSecTransformSha256Id}) {
    ok = ok && xmlSecDSigCtxEnableReferenceTransform(ctx.get(), id) == 0;
  }
  for (xmlSecTransformId id : {xmlSecTransformInclC14NId, xmlSecTransformInclC14NWithCommentsId,
                               xmlSecTransformExclC14NId, xmlSecTransformExclC14NWithCommentsId,
                               xmlSecTransformRsaSha1Id, xmlSecTransformRsaSha256Id}) {
    ok = ok && xmlSecDSigCtxEnableSignatureTransform(ctx.get(), id) == 0;
  }
  if (!ok) ctx.reset();
  return ctx;
}

}  // namespace

void InitXmlSecurity() {
  static std::once_flag once;
  std::call_once(once, [] {
    xmlInitParser();
    if (xmlSecInit() < 0 || xmlSecCheckVersion() != 1 || xmlSecCryptoAppInit(nullptr) < 0 || xmlSecCryptoInit() < 0) {
      return;
    }
    // The initialisations install the default callback (stderr): ours,
    // which keeps the message for the verdict, goes after them.
    xmlSecErrorsSetCallback(CaptureError);
    // No URI is ever resolved through xmlsec's I/O (files, http, ftp).
    xmlSecIOCleanupCallbacks();
    init_ok = true;
  });
}

SignatureVerdict VerifyEnvelopedSignature(xmlDoc* doc, xmlNode* signature, xmlNode* signed_element,
                                          const std::string& trust_bundle, std::time_t signed_at) {
  InitXmlSecurity();
  SignatureVerdict v;
  v.element = Attr(signed_element, "Id");
  v.chain = "not_checked";
  auto fail = [&v](std::string status) {
    v.status = std::move(status);
    return v;
  };
  if (!init_ok) return fail("signature_malformed:xmlsec_init");
  if (std::string bad = Precheck(doc, signature, v.element, v); !bad.empty()) return fail(bad);

  // The certificates as sent: the first is the signer's, any others are
  // intermediates for the chain.
  std::vector<X509Ptr> certs;
  for (xmlNode* c = xml::FirstElement(DsigChild(DsigChild(signature, "KeyInfo"), "X509Data")); c != nullptr;
       c = c->next) {
    if (!xml::IsElement(c, "X509Certificate")) continue;
    X509Ptr cert = DecodeCertificate(c);
    if (!cert) return fail("signature_malformed:certificate");
    certs.push_back(std::move(cert));
  }
  v.signer = Subject(certs.front().get());

  xmlAttr* id_attr = xmlHasProp(signed_element, reinterpret_cast<const xmlChar*>("Id"));
  const auto* id = reinterpret_cast<const xmlChar*>(v.element.c_str());
  if (xmlGetID(doc, id) != id_attr && xmlAddID(nullptr, doc, id, id_attr) == nullptr) {
    v.detail = "Id \"" + v.element + "\" cannot be registered";
    return fail("signature_reference");
  }
  DsigCtxPtr ctx = MakeContext();
  if (!ctx) return fail("signature_malformed:xmlsec_context");
  tls_first_error.clear();
  if (xmlSecDSigCtxVerify(ctx.get(), signature) < 0) {
    v.detail = tls_first_error.empty() ? "xmlsec could not process the signature" : tls_first_error;
    return fail("signature_malformed:xmlsec");
  }
  if (ctx->status != xmlSecDSigStatusSucceeded) {
    // References are checked first: a reference whose digest differs means
    // the signed content changed; all references fine means the
    // SignatureValue does not verify with the certificate's key.
    const xmlSecSize n = xmlSecPtrListGetSize(&ctx->signedInfoReferences);
    for (xmlSecSize i = 0; i < n; ++i) {
      auto* ref = static_cast<xmlSecDSigReferenceCtxPtr>(xmlSecPtrListGetItem(&ctx->signedInfoReferences, i));
      if (ref != nullptr && ref->status != xmlSecDSigStatusSucceeded) {
        v.detail = "the content was changed after signing (digest mismatch)";
        return fail("signature_invalid:digest");
      }
    }
    v.detail = "the SignatureValue does not verify with the embedded certificate's key";
    return fail("signature_invalid:value");
  }
  v.status = "valid";
  if (!trust_bundle.empty()) {
    std::vector<X509Ptr> others;
    for (size_t i = 1; i < certs.size(); ++i) others.push_back(std::move(certs[i]));
    v.chain = CheckChain(trust_bundle, certs.front().get(), others, signed_at);
  }
  return v;
}

std::time_t ParseXmlDateTime(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() < 19 || std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6) {
    return 0;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t t = timegm(&tm);
  int oh = 0, om = 0;
  char sign = 0;
  if (text.size() >= 25 && std::sscanf(text.c_str() + 19, "%c%2d:%2d", &sign, &oh, &om) == 3 &&
      (sign == '+' || sign == '-')) {
    t -= (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60);
  }
  return t;
}

}  // namespace fila::nfe
