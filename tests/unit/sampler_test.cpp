// The sampler's known queues: reported at zero when they hold nothing.
#include <gtest/gtest.h>

#include "fila/scheduler/sampler.h"

namespace fila {
namespace {

TEST(SamplerKnownQueues, AKnownQueueMissingFromTheSampleIsAddedAtZero) {
  auto queues = WithKnownQueues({{.queue = "pdf", .queued = 7, .consumers = 2}}, {"zip", "pdf", "a"});
  ASSERT_EQ(queues.size(), 3u);
  EXPECT_EQ(queues[0].queue, "a");
  EXPECT_EQ(queues[0].queued, 0);
  EXPECT_EQ(queues[1].queue, "pdf");
  EXPECT_EQ(queues[1].queued, 7);  // what the store counted stays
  EXPECT_EQ(queues[1].consumers, 2);
  EXPECT_EQ(queues[2].queue, "zip");
  EXPECT_EQ(queues[2].running, 0);
  EXPECT_EQ(queues[2].oldest_queued_age_seconds, 0);
}

// A sample counts every unfinished task: with a backlog of a million it
// took 1.5 s, and every 5 s that was 30 % of a core per scheduler replica.
TEST(SamplerSpacing, ASlowSampleSpacesTheNextOneOutToTenTimesItsDurationAtMostAMinute) {
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  EXPECT_EQ(SampleSpacing(seconds(5), milliseconds(100)), seconds(5));
  EXPECT_EQ(SampleSpacing(seconds(5), milliseconds(1500)), seconds(15));
  EXPECT_EQ(SampleSpacing(seconds(5), seconds(10)), seconds(60));
  EXPECT_EQ(SampleSpacing(seconds(120), seconds(1)), seconds(120));  // a longer interval stays
}

}  // namespace
}  // namespace fila
