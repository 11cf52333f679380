// JSON mode's cost per generated token: JsonConstraint::mask over a real
// vocabulary (the Llama SPM 32k vocabulary from ../shared) in three states
// of a schema-constrained value — inside a string (nearly every piece fits),
// after a key's colon, and where alternatives of a union are open side by
// side — and a whole-vocabulary allowed() pass for comparison.
//   build/release/bench/json_mask_bench   (HEARTH_SHARED selects the data)
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "sampling/json_grammar.h"
#include "sampling/json_schema.h"
#include "tokenizer/tokenizer.h"

namespace {

using hearth::sampling::JsonConstraint;
using hearth::sampling::JsonSchema;

std::shared_ptr<const std::vector<std::string>> vocab_pieces() {
  static const std::shared_ptr<const std::vector<std::string>> pieces = [] {
    const char* e = std::getenv("HEARTH_SHARED");
    const std::string dir = e ? e : "../shared";
    auto f = hearth::gguf::File::open(dir + "/vocab/ggml-vocab-llama-spm.gguf");
    if (!f.ok()) {
      std::fprintf(stderr, "json_mask_bench: %s\n", f.status().message().c_str());
      std::exit(1);
    }
    auto t = hearth::tokenizer::Tokenizer::load(f.value());
    if (!t.ok()) std::exit(1);
    return std::make_shared<const std::vector<std::string>>(*t.value()->pieces());
  }();
  return pieces;
}

// A constraint over the vocabulary with `prefix` already written (through
// one extra piece that spells it).
JsonConstraint at(const char* schema, const std::string& prefix) {
  auto pieces = std::make_shared<std::vector<std::string>>(*vocab_pieces());
  pieces->push_back(prefix);
  auto s = JsonSchema::compile(nlohmann::json::parse(schema), "format");
  if (!s.ok()) std::exit(1);
  const auto n = static_cast<int32_t>(pieces->size());
  JsonConstraint c(pieces, [](int32_t id) { return id == 2; }, s.value());
  c.commit(n - 1);
  return c;
}

constexpr const char* kRecord = R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
  "tags": {"type": "array", "items": {"type": "string"}}}})";
constexpr const char* kUnion = R"({"type": "array", "items": {"anyOf": [
  {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number"}}},
  {"type": "object", "properties": {"kind": {"const": "rect"}, "w": {"type": "number"}}}]}})";

void mask(benchmark::State& state, const char* schema, const char* prefix) {
  JsonConstraint c = at(schema, prefix);
  std::vector<float> logits(vocab_pieces()->size() + 1);
  size_t allowed = 0;
  for (auto _ : state) {
    std::fill(logits.begin(), logits.end(), 0.f);
    c.mask(logits);
    benchmark::DoNotOptimize(logits.data());
  }
  for (float v : logits) allowed += std::isfinite(v);
  state.counters["allowed"] = static_cast<double>(allowed);
}

void allowed_each(benchmark::State& state) {
  JsonConstraint c = at(kRecord, R"({"name": "ab)");
  const auto n = static_cast<int32_t>(vocab_pieces()->size());
  for (auto _ : state) {
    int32_t k = 0;
    for (int32_t id = 0; id < n; ++id) k += c.allowed(id);
    benchmark::DoNotOptimize(k);
  }
}

}  // namespace

BENCHMARK_CAPTURE(mask, in_string, kRecord, R"({"name": "ab)")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(mask, after_colon, kRecord, R"({"age":)")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(mask, union_open, kUnion, R"([{"kind": ")")->Unit(benchmark::kMicrosecond);
BENCHMARK(allowed_each)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
