// runtime/prompt_cache: which finished sequence's KV cache a new prompt
// reuses, and how much of it.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "runtime/prompt_cache.h"

namespace hearth::runtime {
namespace {

model::HParams tiny() {
  model::HParams hp;
  hp.n_layer = 1;
  hp.n_head = 1;
  hp.n_head_kv = 1;
  hp.head_dim = 32;
  return hp;
}

std::unique_ptr<model::KvCache> cache(int64_t n_past, int64_t n_ctx = 64,
                                      tensor::KvType type = tensor::KvType::kF16) {
  auto kv = std::make_unique<model::KvCache>(tiny(), n_ctx, type);
  kv->n_past = n_past;
  return kv;
}

using Tokens = std::vector<int32_t>;

TEST(PromptCache, TakesTheLongestSharedPrefixAndKeepsOneTokenToEvaluate) {
  auto owner = std::make_shared<int>(1);
  PromptCache pc(4);
  EXPECT_TRUE(pc.put(owner, cache(3), {1, 2, 3}).empty());
  EXPECT_TRUE(pc.put(owner, cache(5), {1, 2, 7, 8, 9}).empty());
  EXPECT_TRUE(pc.put(owner, cache(2), {5, 6}).empty());
  EXPECT_EQ(pc.size(), 3u);

  // {1, 2, 7, 8, 10}: 4 tokens shared with the second entry.
  auto hit = pc.take(owner, 64, tensor::KvType::kF16, Tokens{1, 2, 7, 8, 10});
  ASSERT_TRUE(hit.kv);
  EXPECT_EQ(hit.reuse, 4u);
  EXPECT_EQ(hit.kv->n_past, 4);
  EXPECT_EQ(pc.size(), 2u);

  // The same prompt as an entry: its last token is evaluated again (logits).
  hit = pc.take(owner, 64, tensor::KvType::kF16, Tokens{1, 2, 3});
  ASSERT_TRUE(hit.kv);
  EXPECT_EQ(hit.reuse, 2u);
  // A prompt shorter than the entry's tokens.
  hit = pc.take(owner, 64, tensor::KvType::kF16, Tokens{5});
  ASSERT_TRUE(hit.kv);
  EXPECT_EQ(hit.reuse, 0u);
  EXPECT_EQ(pc.size(), 0u);
  // Nothing shared: no hit.
  pc.put(owner, cache(2), {5, 6});
  EXPECT_FALSE(pc.take(owner, 64, tensor::KvType::kF16, Tokens{9, 9}).kv);
  EXPECT_EQ(pc.size(), 1u);
}

TEST(PromptCache, OnlyTheSameModelContextAndType) {
  auto a = std::make_shared<int>(1), b = std::make_shared<int>(2);
  PromptCache pc(4);
  pc.put(a, cache(3), {1, 2, 3});
  const Tokens p{1, 2, 3, 4};
  EXPECT_FALSE(pc.take(b, 64, tensor::KvType::kF16, p).kv);
  EXPECT_FALSE(pc.take(a, 128, tensor::KvType::kF16, p).kv);
  EXPECT_FALSE(pc.take(a, 64, tensor::KvType::kQ8_0, p).kv);
  EXPECT_TRUE(pc.take(a, 64, tensor::KvType::kF16, p).kv);
}

TEST(PromptCache, TiesGoToTheMostRecentAndTheOldestIsEvictedFirst) {
  auto owner = std::make_shared<int>(1);
  PromptCache pc(2);
  auto first = cache(2), second = cache(2);
  const model::KvCache* second_ptr = second.get();
  pc.put(owner, std::move(first), {1, 2});
  pc.put(owner, std::move(second), {1, 2});
  auto hit = pc.take(owner, 64, tensor::KvType::kF16, Tokens{1, 2, 3});
  EXPECT_EQ(hit.kv.get(), second_ptr);
  hit.kv->n_past = 3;  // the prompt's last token evaluated
  EXPECT_TRUE(pc.put(owner, std::move(hit.kv), {1, 2, 3}).empty());
  // Full: a third entry evicts the oldest (the first), handed back.
  auto third = cache(1);
  auto dropped = pc.put(owner, std::move(third), {4});
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0]->n_past, 2);
  EXPECT_EQ(pc.size(), 2u);
  EXPECT_EQ(pc.bytes(), 2 * model::KvCache::bytes_for(tiny(), 64));
  auto oldest = pc.evict_oldest();
  ASSERT_TRUE(oldest);
  EXPECT_EQ(oldest.get(), second_ptr);
  EXPECT_EQ(pc.size(), 1u);
}

TEST(PromptCache, EntriesOfAModelThatIsGoneNeverMatchAndAreDropped) {
  auto owner = std::make_shared<int>(1);
  PromptCache pc(4);
  pc.put(owner, cache(2), {1, 2});
  std::weak_ptr<int> w = owner;
  owner.reset();
  ASSERT_TRUE(w.expired());
  auto other = std::make_shared<int>(2);  // may reuse the address
  EXPECT_FALSE(pc.take(other, 64, tensor::KvType::kF16, Tokens{1, 2, 3}).kv);
  EXPECT_EQ(pc.drop_stale().size(), 1u);
  EXPECT_EQ(pc.size(), 0u);
}

TEST(PromptCache, NothingIsKeptWhenOffOrEmptyOrInconsistent) {
  auto owner = std::make_shared<int>(1);
  PromptCache off(0);
  EXPECT_EQ(off.put(owner, cache(2), {1, 2}).size(), 1u);
  EXPECT_EQ(off.size(), 0u);
  PromptCache pc(4);
  EXPECT_EQ(pc.put(owner, cache(0), {}).size(), 1u);         // nothing evaluated
  EXPECT_EQ(pc.put(owner, cache(1), {1, 2}).size(), 1u);     // more tokens than positions
  EXPECT_EQ(pc.put(nullptr, cache(2), {1, 2}).size(), 1u);   // no model
  EXPECT_EQ(pc.size(), 0u);
  EXPECT_EQ(pc.evict_oldest(), nullptr);
}

}  // namespace
}  // namespace hearth::runtime
