// The scheduler's choice of prompt tokens for one forward pass.
#include "runtime/batch_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace hearth::runtime {
namespace {

std::vector<size_t> plan(std::vector<size_t> remaining, int64_t budget) {
  std::vector<size_t> take(remaining.size(), 99);
  plan_prompt_chunks(remaining, budget, take);
  return take;
}

TEST(BatchPlan, PromptsThatFitAreTakenWholeInArrivalOrder) {
  EXPECT_EQ(plan({15, 15, 15, 15}, 63), (std::vector<size_t>{15, 15, 15, 15}));
  EXPECT_EQ(plan({10, 20}, 30), (std::vector<size_t>{10, 20}));
}

TEST(BatchPlan, APromptThatWouldBeSplitAtTheEndOfAPassWaits) {
  // Four 16-token prompts after one decode token: the fourth would get 15 of
  // its 16 tokens and finish only in the next pass; it waits instead.
  EXPECT_EQ(plan({16, 16, 16, 16, 16}, 63), (std::vector<size_t>{16, 16, 16, 0, 0}));
}

TEST(BatchPlan, LaterPromptsThatFitStillJoin) {
  EXPECT_EQ(plan({20, 50, 10, 40}, 64), (std::vector<size_t>{20, 0, 10, 0}));
}

TEST(BatchPlan, ALongPromptFirstInLineIsChunkedToTheBudget) {
  EXPECT_EQ(plan({300, 10}, 64), (std::vector<size_t>{64, 0}));
  EXPECT_EQ(plan({0, 300, 10}, 60), (std::vector<size_t>{0, 60, 0}));
  // After short prompts, the long one waits and is first in the next pass.
  EXPECT_EQ(plan({10, 300}, 64), (std::vector<size_t>{10, 0}));
  EXPECT_EQ(plan({300}, 64), (std::vector<size_t>{64}));
}

TEST(BatchPlan, NoBudgetTakesNothing) {
  EXPECT_EQ(plan({5, 1}, 0), (std::vector<size_t>{0, 0}));
  EXPECT_EQ(plan({5}, -3), (std::vector<size_t>{0}));
  EXPECT_EQ(plan({}, 64), (std::vector<size_t>{}));
}

TEST(BatchPlan, EveryPromptIsFedWithinABoundedNumberOfPasses) {
  // Arrival order with no new decode tokens: all prompts complete, never more
  // than one budget per pass, and the first prompt in line always advances.
  std::vector<size_t> remaining{70, 5, 64, 1, 200, 33, 33};
  const size_t total = 70 + 5 + 64 + 1 + 200 + 33 + 33;
  size_t fed = 0;
  int passes = 0;
  while (fed < total) {
    std::vector<size_t> take(remaining.size());
    plan_prompt_chunks(remaining, 64, take);
    size_t in_pass = 0;
    size_t first = 0;
    while (remaining[first] == 0) ++first;
    EXPECT_GT(take[first], 0u);
    for (size_t i = 0; i < remaining.size(); ++i) {
      ASSERT_LE(take[i], remaining[i]);
      remaining[i] -= take[i];
      in_pass += take[i];
    }
    EXPECT_LE(in_pass, 64u);
    fed += in_pass;
    ASSERT_LT(++passes, 20);
  }
}

}  // namespace
}  // namespace hearth::runtime
