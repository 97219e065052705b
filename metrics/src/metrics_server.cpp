#include "fila/metrics/metrics_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <charconv>
#include <map>
#include <mutex>

#include "fila/core/errors.h"
#include "extension_metrics.h"
#include "prometheus_families.h"

namespace fila {
namespace {

// civetweb's begin_request callback carries no pointer of ours, so a
// server's readiness is found by the port the request arrived on. Never
// destroyed: civetweb's threads may outlive static destruction at exit.
struct Probes {
  std::mutex mutex;
  std::map<int, const Readiness*> by_port;
};
Probes& AllProbes() {
  static auto* probes = new Probes;
  return *probes;
}

int Reply(mg_connection* conn, int status, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, status == 200 ? "OK" : "Service Unavailable", body.size());
  mg_write(conn, body.data(), body.size());
  return status;  // non-zero: civetweb does nothing more with the request
}

std::string ReadinessReport(const Readiness& readiness, bool& ready) {
  std::string body;
  ready = true;
  for (const auto& r : readiness.Evaluate()) {
    body += r.name + ": " + (r.problem ? *r.problem : "ok") + "\n";
    if (r.problem) ready = false;
  }
  return (ready ? "ready\n" : "not ready\n") + body;
}

// /healthz and /readyz; everything else falls through to the exposer.
int BeginRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string uri = info->local_uri != nullptr ? info->local_uri : "";
  if (uri == "/healthz") return Reply(conn, 200, "ok\n");
  if (uri != "/readyz") return 0;
  const Readiness* readiness = nullptr;
  {
    auto& probes = AllProbes();
    std::lock_guard lock(probes.mutex);
    auto it = probes.by_port.find(info->server_port);
    if (it != probes.by_port.end()) readiness = it->second;
  }
  if (readiness == nullptr) return Reply(conn, 503, "not ready\nstarting\n");
  bool ready = false;
  std::string body = ReadinessReport(*readiness, ready);
  return Reply(conn, ready ? 200 : 503, body);
}

// fila_ready{check=...}: the readiness checks as a gauge, evaluated per scrape.
class ReadyCollectable final : public prometheus::Collectable {
 public:
  explicit ReadyCollectable(const Readiness& readiness) : readiness_(readiness) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily family{"fila_ready",
                                    "1 when the named readiness check passes, else 0",
                                    prometheus::MetricType::Gauge,
                                    {}};
    for (const auto& r : readiness_.Evaluate()) {
      prometheus::ClientMetric m;
      m.label.push_back({"check", r.name});
      m.gauge.value = r.problem ? 0 : 1;
      family.metric.push_back(std::move(m));
    }
    return {std::move(family)};
  }

 private:
  const Readiness& readiness_;
};

// "HOST:PORT" as civetweb's listening_ports wants it.
std::pair<std::string, uint16_t> ParseListen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  unsigned port = 0;
  const char* end = listen.data() + listen.size();
  if (colon == std::string::npos || colon + 1 == listen.size() ||
      std::from_chars(listen.data() + colon + 1, end, port).ptr != end || port > 65535) {
    throw PermanentError("metrics address '" + listen + "' is not HOST:PORT (e.g. 0.0.0.0:9100)");
  }
  std::string host = listen.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  return {host, static_cast<uint16_t>(port)};
}

}  // namespace

struct MetricsServer::Impl {
  explicit Impl(const Readiness& r) : readiness(r) {}
  const Readiness& readiness;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<ReadyCollectable> ready;
  std::unique_ptr<prometheus::Exposer> exposer;
  CivetCallbacks callbacks;
  std::string address;
  uint16_t port = 0;
  std::mutex mutex;
  std::unique_ptr<WorkerMetrics> worker;
  std::unique_ptr<SchedulerMetrics> scheduler;
  std::unique_ptr<MetricRegistry> extensions;
};

MetricsServer::MetricsServer(const std::string& listen, const std::string& component,
                             const Readiness& readiness)
    : impl_(std::make_unique<Impl>(readiness)) {
  auto [host, port] = ParseListen(listen);
  impl_->callbacks.begin_request = &BeginRequest;
  try {
    impl_->exposer = std::make_unique<prometheus::Exposer>(
        host + ":" + std::to_string(port), 2, &impl_->callbacks);
  } catch (const std::exception& e) {
    throw TransientError("cannot serve metrics on " + listen + ": " + e.what());
  }
  auto ports = impl_->exposer->GetListeningPorts();
  if (ports.empty()) throw TransientError("cannot serve metrics on " + listen);
  impl_->port = static_cast<uint16_t>(ports.front());
  impl_->address = host + ":" + std::to_string(impl_->port);
  {
    auto& probes = AllProbes();
    std::lock_guard lock(probes.mutex);
    probes.by_port[impl_->port] = &readiness;
  }
  prometheus::BuildGauge()
      .Name("fila_build_info")
      .Help("Always 1; labels name the component and version of this process")
      .Register(*impl_->registry)
      .Add({{"component", component}, {"version", FILA_VERSION}})
      .Set(1);
  impl_->ready = std::make_shared<ReadyCollectable>(readiness);
  impl_->exposer->RegisterCollectable(impl_->registry);
  impl_->exposer->RegisterCollectable(impl_->ready);
}

MetricsServer::~MetricsServer() {
  {
    auto& probes = AllProbes();
    std::lock_guard lock(probes.mutex);
    probes.by_port.erase(impl_->port);
  }
  impl_->exposer.reset();  // stops civetweb before the metrics it serves go away
}

const std::string& MetricsServer::Address() const { return impl_->address; }

uint16_t MetricsServer::Port() const { return impl_->port; }

WorkerMetrics& MetricsServer::Worker() {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->worker) impl_->worker = prom::NewWorkerMetrics(*impl_->registry);
  return *impl_->worker;
}

SchedulerMetrics& MetricsServer::Scheduler() {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->scheduler) impl_->scheduler = prom::NewSchedulerMetrics(*impl_->registry);
  return *impl_->scheduler;
}

MetricRegistry& MetricsServer::Extensions() {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->extensions) impl_->extensions = prom::NewExtensionMetrics(*impl_->registry);
  return *impl_->extensions;
}

}  // namespace fila
