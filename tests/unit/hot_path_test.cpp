// The generation hot path allocates nothing: after a warm-up, evaluating one
// token at a time (matmuls over repacked weights, attention, the thread pool)
// makes no heap allocation in any thread. Counts calls to the global
// operator new, which this test binary replaces.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "common/shared_data.h"
#include "model/model.h"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace hearth::model {
namespace {

TEST(HotPath, GenerationMakesNoHeapAllocation) {
  for (const char* name : {"synth-llama-spm512-Q4_0", "synth-llama-spm512-Q4_K_M", "synth-llama-spm512-F16",
                           "synth-llama-spm512-Q4_0 with a Q8_0 KV cache"}) {
    const std::string n = name;
    const bool q8 = n.find("Q8_0 KV") != std::string::npos;
    auto m = Model::load(test::shared_path("models/" + n.substr(0, n.find(' ')) + ".gguf"));
    ASSERT_TRUE(m.ok()) << m.status().message();
    Context ctx(m.value(), 256, 2, q8 ? tensor::KvType::kQ8_0 : tensor::KvType::kF16);
    std::vector<float> logits;
    const int32_t prompt[] = {1, 15, 200, 7, 42, 99, 3, 18};
    ASSERT_TRUE(ctx.eval(prompt, false, &logits).ok());
    int32_t tok = 5;
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(ctx.eval(std::span<const int32_t>(&tok, 1), false, &logits).ok());
    const long before = g_allocations.load();
    for (int i = 0; i < 8; ++i) {
      Status s = ctx.eval(std::span<const int32_t>(&tok, 1), false, &logits);
      ASSERT_TRUE(s.ok());
      tok = (tok * 31 + 7) % 500;
    }
    EXPECT_EQ(g_allocations.load() - before, 0) << name << ": heap allocations while generating 8 tokens";
  }
}

}  // namespace
}  // namespace hearth::model
