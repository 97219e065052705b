// 10,000 mutated request bodies against the live API: random bytes,
// truncated and bit-flipped protobuf, deeply nested and huge JSON. The API
// must answer every one without a 5xx other than 503, without crashing and
// without hanging, and still serve a valid request afterwards.
#include <atomic>
#include <random>
#include <thread>

#include "api_fixture.h"
#include "fila/v1/task.pb.h"

namespace fila::test {
namespace {

std::string ValidProtobuf() {
  v1::EnqueueRequest req;
  req.set_type("sleep");
  req.set_payload(std::string("\x08\x05", 2));
  req.set_priority(4);
  req.set_idempotency_key("robust");
  req.set_trace_id("trace");
  return req.SerializeAsString();
}

struct Mutant {
  std::string body;
  std::string content_type;
  std::string path;
};

Mutant Mutate(std::mt19937_64& rng, int i) {
  static const std::string kProto = ValidProtobuf();
  static const std::string kJson =
      R"({"type":"sleep","args":{"ms":5},"priority":4,"idempotency_key":"robust","queue":"default"})";
  std::uniform_int_distribution<int> byte(0, 255);
  Mutant m{{}, "application/json", i % 10 == 0 ? "/v1/tasks:batch" : "/v1/tasks"};
  switch (i % 7) {
    case 0: {  // random bytes, either content type
      m.body.resize(rng() % 512);
      for (auto& c : m.body) c = static_cast<char>(byte(rng));
      if (rng() % 2) m.content_type = "application/x-protobuf";
      break;
    }
    case 1:  // truncated protobuf
      m.body = kProto.substr(0, rng() % kProto.size());
      m.content_type = "application/x-protobuf";
      break;
    case 2: {  // bit-flipped protobuf
      m.body = kProto;
      for (int flips = 1 + rng() % 4; flips > 0; --flips) m.body[rng() % m.body.size()] ^= 1 << (rng() % 8);
      m.content_type = "application/x-protobuf";
      break;
    }
    case 3: {  // deeply nested JSON
      size_t depth = 100 + rng() % 20000;
      m.body = R"({"type":"sleep","args":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
      break;
    }
    case 4: {  // huge JSON: a long string or a long array
      if (rng() % 2) {
        m.body = R"({"type":"noop","trace_id":")" + std::string(300000 + rng() % 300000, 'x') + "\"}";
      } else {
        m.body = R"({"type":"sleep","args":{"ms":[)";
        for (int k = 0, n = 20000 + rng() % 20000; k < n; ++k) m.body += k ? ",1" : "1";
        m.body += "]}}";
      }
      break;
    }
    case 5: {  // truncated or byte-mangled JSON
      m.body = kJson.substr(0, rng() % kJson.size());
      if (!m.body.empty() && rng() % 2) m.body[rng() % m.body.size()] = static_cast<char>(byte(rng));
      break;
    }
    default: {  // wrong types, invalid UTF-8, odd numbers
      static const char* kOdd[] = {
          R"({"type":7})", R"({"type":"noop","priority":-1})", R"({"type":"noop","priority":1e309})",
          "{\"type\":\"no\xff\xfeop\"}", R"({"type":"sleep","args":{"ms":-5}})",
          R"({"type":"noop","run_at_unix_ms":"x"})", R"([1,2,3])", R"(null)", R"("")",
          R"({"tasks":[null]})", "{\"type\":\"noop\",\"idempotency_key\":\"\\u0000\"}"};
      m.body = kOdd[rng() % (sizeof(kOdd) / sizeof(kOdd[0]))];
      break;
    }
  }
  return m;
}

TEST_F(ApiTest, TenThousandMutatedBodiesNeverBreakIt) {
  constexpr int kBodies = 10000;
  constexpr int kThreads = 4;
  std::atomic<int> next{0}, server_errors{0}, no_answer{0}, accepted{0};
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + t);
      for (int i = next++; i < kBodies; i = next++) {
        Mutant m = Mutate(rng, i);
        auto r = Call("POST", m.path, acme_, m.body, m.content_type);
        if (r.status == 201 || r.status == 200) ++accepted;
        if (r.status == 0 || (r.status >= 500 && r.status != 503)) {
          (r.status == 0 ? no_answer : server_errors)++;
          std::lock_guard lock(failures_mutex);
          if (failures.size() < 5) {
            failures.push_back(std::to_string(r.status) + " for case " + std::to_string(i % 7) + ": " +
                               m.body.substr(0, 60));
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::printf("[ metric ] %d mutated bodies: %d accepted, %d 5xx, %d unanswered\n", kBodies,
              accepted.load(), server_errors.load(), no_answer.load());
  for (const auto& f : failures) ADD_FAILURE() << f;
  EXPECT_EQ(server_errors, 0);
  EXPECT_EQ(no_answer, 0);
  EXPECT_TRUE(scheduler_->Running()) << scheduler_->Stderr().substr(0, 2000);
  auto ok = Call("POST", "/v1/tasks", acme_, R"({"type":"noop"})");
  EXPECT_EQ(ok.status, 201) << ok.body;
}

}  // namespace
}  // namespace fila::test
