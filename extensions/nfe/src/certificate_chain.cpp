#include "certificate_chain.h"

#include <openssl/x509_vfy.h>

#include <map>
#include <mutex>

namespace fila::nfe {
namespace {

// Trust bundles, loaded once per path (an X509_STORE is safe to share for
// verification).
std::shared_ptr<X509_STORE> TrustStore(const std::string& path, std::string& error) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<X509_STORE>> stores;
  std::lock_guard lock(mutex);
  auto it = stores.find(path);
  if (it != stores.end()) return it->second;
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  if (!store || X509_STORE_load_locations(store.get(), path.c_str(), nullptr) != 1) {
    error = "cannot load the trust bundle " + path;
    return nullptr;
  }
  stores.emplace(path, store);
  return store;
}

}  // namespace

std::string Subject(X509* cert) {
  char buffer[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buffer, sizeof buffer);
  return buffer;
}

std::string CheckChain(const std::string& bundle, X509* leaf, const std::vector<X509Ptr>& others,
                       std::time_t signed_at) {
  std::string error;
  auto store = TrustStore(bundle, error);
  if (!store) return "untrusted: " + error;
  auto free_stack = [](STACK_OF(X509) * s) { sk_X509_free(s); };
  std::unique_ptr<STACK_OF(X509), decltype(free_stack)> chain(sk_X509_new_null(), free_stack);
  if (!chain) return "untrusted: out of memory";
  for (const auto& c : others) sk_X509_push(chain.get(), c.get());
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, chain.get()) != 1) return "untrusted: out of memory";
  // An invoice stays authentic after its certificate expires: judge the
  // chain when the document was signed.
  if (signed_at != 0) X509_STORE_CTX_set_time(ctx.get(), 0, signed_at);
  if (X509_verify_cert(ctx.get()) == 1) return "trusted";
  return std::string("untrusted: ") + X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}


}  // namespace fila::nfe
