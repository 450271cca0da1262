#include "coordinator/refusal_log.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fakes/fake_clock.h"

namespace cwb {
namespace {

using ::testing::HasSubstr;

int Lines(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

TEST(RefusalLogTest, OneLinePerMethodPerQuietSpanCountingThoseLeftOut) {
  testing::FakeClock clock;
  std::ostringstream out;
  RefusalLog log(out, clock, std::chrono::seconds(10));
  const absl::Status why = absl::UnauthenticatedError("no or unknown token");
  log.Refused("/cwb.v1.AgentService/Session", why);
  EXPECT_THAT(out.str(), HasSubstr("refused a call to /cwb.v1.AgentService/Session: no or unknown token"));
  for (int i = 0; i < 5; ++i) log.Refused("/cwb.v1.AgentService/Session", why);
  log.Refused("/cwb.v1.BuildService/SubmitBuild", why);  // another method has its own line
  EXPECT_EQ(Lines(out.str()), 2);
  clock.Advance(std::chrono::seconds(10));
  log.Refused("/cwb.v1.AgentService/Session", why);
  EXPECT_EQ(Lines(out.str()), 3);
  EXPECT_THAT(out.str(), HasSubstr("(and 5 more since the last such line)"));
}

TEST(RefusalLogTest, MethodsACallerMakesUpShareOneLineBeyondTheBound) {
  testing::FakeClock clock;
  std::ostringstream out;
  RefusalLog log(out, clock);
  for (size_t i = 0; i < RefusalLog::kMaxMethods + 100; ++i) log.Refused("/made/up/" + std::to_string(i), absl::UnauthenticatedError("x"));
  EXPECT_EQ(Lines(out.str()), static_cast<int>(RefusalLog::kMaxMethods) + 1);
  EXPECT_THAT(out.str(), HasSubstr("refused a call to (other methods)"));
}

}  // namespace
}  // namespace cwb
