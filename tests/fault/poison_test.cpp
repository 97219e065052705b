// Fault: poison messages on a work queue.
//
// 1,000 messages that can never be processed are published straight onto
// the work queue, interleaved (4 to 1) with the envelopes of 250 real `noop`
// tasks: random bytes (and one empty body), truncated envelopes, envelopes
// of an unknown task type, and envelopes whose task id is not in the
// database (half of them not even a UUID). The worker must move every
// poison message to the dead-letter queue `fila.dead` exactly once (it
// counts them: poison=1000 in its exit line), never crash or stall on them,
// and run every real task to success, once.
//
// `fila.dead` is shared by every test: it is drained before the test, and
// afterwards this test's messages are recognised by their exact bodies.
#include <signal.h>

#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "fault_fixture.h"
#include "fila/broker_rabbitmq/rabbitmq_broker.h"
#include "fila/core/clock.h"
#include "fila/core/envelope.h"
#include "fila/store_postgres/postgres_store.h"

namespace fila::fault {
namespace {

class Poison : public FaultTest {
 protected:
  std::string RandomUuid() {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < 32; ++i) {
      if (i == 8 || i == 12 || i == 16 || i == 20) s += '-';
      char c = kHex[rng_() % 16];
      if (i == 12) c = '4';
      if (i == 16) c = kHex[8 + rng_() % 4];
      s += c;
    }
    return s;
  }

  std::string RandomBytes(size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng_() % 256);
    return s;
  }

  Envelope FakeEnvelope(const std::string& id, const std::string& type, int i) {
    Envelope e;
    e.id = id;
    e.type = type;
    e.queue = queue_;
    e.max_attempts = 3;
    e.timeout_ms = 1000;
    e.tenant = "default";
    e.trace_id = "poison-" + std::to_string(i);
    e.enqueued_at_unix_ms = NowUnixMs();
    return e;
  }

  // Reads the logical queue "dead", acking everything, until `done` says so,
  // nothing arrives for `idle`, or `overall` passes. Returns how many it read.
  static int64_t DrainDead(Broker& broker, const std::function<bool(const std::string&)>& on_body,
                           std::chrono::milliseconds idle, std::chrono::milliseconds overall) {
    auto consumer = broker.NewConsumer();
    consumer->Start({"dead"}, 500);
    const auto until = DeadlineIn(overall);
    int64_t read = 0;
    while (SteadyClock::now() < until) {
      auto d = consumer->Next(std::min(until, DeadlineIn(idle)));
      if (!d) break;
      ++read;
      const bool done = on_body(d->body);
      consumer->Ack(d->epoch, d->tag);
      if (done) break;
    }
    consumer->Stop();
    return read;
  }

  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_F(Poison, ThousandPoisonMessagesAreDeadLetteredAndRealTasksSucceed) {
  constexpr int kPoison = 1000;
  constexpr int kReal = 250;
  auto broker = MakeRabbitMqBroker({.url = test::Stack().amqp_url});
  const int64_t leftovers = DrainDead(*broker, [](const std::string&) { return false; }, 1s, 60s);
  if (leftovers > 0) std::printf("  discarded %lld old messages from fila.dead\n", static_cast<long long>(leftovers));

  // Real tasks: their envelopes from the outbox, published by us instead of
  // the relay.
  Enqueue("noop", "", kReal);
  PostgresStore store(db_->url());
  const auto items = store.FetchOutbox(kReal + 10);
  ASSERT_EQ(items.size(), static_cast<size_t>(kReal));

  static constexpr const char* kKinds[] = {"random bytes", "truncated envelope", "unknown type", "unknown id"};
  std::multiset<std::string> expected;  // poison bodies not yet seen in fila.dead
  std::map<std::string, int> kind_of;   // body -> kind
  std::set<std::string> all_bodies;
  std::vector<OutgoingMessage> messages;
  for (int i = 0, real = 0; i < kPoison; ++i) {
    std::string body;
    const int kind = i % 4;
    switch (kind) {
      case 0:  // leading 'f' (0x66) is an invalid protobuf wire type
        body = i == 0 ? "" : "fila-poison " + std::to_string(i) + " " + RandomBytes(rng_() % 64);
        break;
      case 1: {
        const std::string full = EncodeEnvelope(FakeEnvelope(RandomUuid(), "noop", i));
        body = full.substr(0, 1 + rng_() % (full.size() - 1));
        break;
      }
      case 2:
        body = EncodeEnvelope(FakeEnvelope(RandomUuid(), "no.such.type", i));
        break;
      case 3:
        body = EncodeEnvelope(FakeEnvelope(i % 8 == 3 ? "not-a-uuid-" + std::to_string(i) : RandomUuid(), "noop", i));
        break;
    }
    expected.insert(body);
    kind_of[body] = kind;
    all_bodies.insert(body);
    messages.push_back({queue_, body, 0, "poison-" + std::to_string(i)});
    if (kind == 3 && real < kReal) {
      const auto& item = items[static_cast<size_t>(real++)];
      messages.push_back({queue_, EncodeEnvelope(item.envelope), 0, item.envelope.id});
    }
  }
  ASSERT_EQ(messages.size(), static_cast<size_t>(kPoison + kReal));
  auto publisher = broker->NewPublisher();
  for (size_t done = 0; done < messages.size(); done += 250) {
    const size_t n = std::min<size_t>(250, messages.size() - done);
    publisher->PublishConfirmed(std::span<const OutgoingMessage>(messages.data() + done, n), DeadlineIn(30s));
  }
  std::vector<int64_t> outbox_ids;
  for (const auto& item : items) outbox_ids.push_back(item.outbox_id);
  store.DeleteOutbox(outbox_ids);  // as the relay does once published

  auto& worker = StartWorker("w1", 8);
  ASSERT_TRUE(test::WaitFor([&] { return CountState("succeeded") == kReal; }, 60s))
      << CountState("succeeded") << " of " << kReal << " real tasks succeeded\n" << Logs();

  // Every poison message arrives in fila.dead once.
  int64_t foreign = 0, extra = 0;
  const auto match = [&](const std::string& body) {
    auto it = expected.find(body);
    if (it != expected.end()) {
      expected.erase(it);
    } else if (all_bodies.count(body)) {
      ++extra;
    } else {
      ++foreign;
    }
    return false;
  };
  const auto until = SteadyClock::now() + 60s;
  while (!expected.empty() && SteadyClock::now() < until) {
    DrainDead(*broker, [&](const std::string& body) { match(body); return expected.empty(); }, 2s,
              std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now()));
  }
  DrainDead(*broker, match, 1s, 10s);  // copies beyond the first would show here
  std::map<std::string, int> missing;
  for (const auto& body : expected) ++missing[kKinds[kind_of[body]]];
  EXPECT_TRUE(expected.empty()) << expected.size() << " poison messages never reached fila.dead: "
                                << ::testing::PrintToString(missing) << "\n" << Logs();
  EXPECT_EQ(extra, 0) << "poison messages dead-lettered more than once" << Logs();
  if (foreign > 0) std::printf("  %lld messages of other origin read from fila.dead\n", static_cast<long long>(foreign));

  EXPECT_TRUE(worker.Running()) << Logs();
  worker.Signal(SIGTERM);
  EXPECT_EQ(worker.Wait(30s), 0) << Logs();
  const auto counters = ExitCounters(worker.Stderr(), "w1");
  ASSERT_FALSE(counters.empty()) << "no exit line\n" << Logs();
  EXPECT_EQ(counters.at("poison"), kPoison);
  EXPECT_EQ(counters.at("finished"), kReal);

  // The real tasks ran once each, at the first attempt; poison created no task.
  EXPECT_EQ(CountState("succeeded"), kReal);
  EXPECT_EQ(Count("SELECT count(*) FROM tasks WHERE attempt <> 1"), 0);
  ExpectInvariants(kReal);
}

}  // namespace
}  // namespace fila::fault
