// Tokenization throughput (MB/s) per tokenizer family on a mixed English +
// code + CJK text built from the shared test strings and prompts.
//   build/release/bench/tokenizer_bench   (HEARTH_SHARED selects the data)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "gguf/file.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string shared_dir() {
  const char* e = std::getenv("HEARTH_SHARED");
  return e ? e : "../shared";
}

std::string read(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const std::string& corpus() {
  static const std::string text = [] {
    std::string base = read(shared_dir() + "/vocab/ggml-vocab-llama-spm.gguf.inp");
    base += read(shared_dir() + "/prompts/english.txt") + read(shared_dir() + "/prompts/mixed.txt");
    base += "int main(int argc, char** argv) {\n  for (int i = 0; i < argc; ++i) printf(\"%s\\n\", argv[i]);\n}\n";
    base += "机器学习是人工智能的一个分支。東京は日本の首都です。인공지능은 미래입니다.\n";
    std::string t;
    while (t.size() < (1u << 20)) t += base;
    return t;
  }();
  return text;
}

void run(benchmark::State& state, const char* vocab) {
  auto f = hearth::gguf::File::open(shared_dir() + "/vocab/ggml-vocab-" + vocab + ".gguf");
  if (!f.ok()) {
    state.SkipWithError(f.status().to_string().c_str());
    return;
  }
  auto t = hearth::tokenizer::Tokenizer::load(f.value());
  const std::string& text = corpus();
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = t.value()->encode(text, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
}

}  // namespace

BENCHMARK_CAPTURE(run, spm_llama, "llama-spm")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, bpe_gpt2, "gpt-2")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, bpe_deepseek_coder, "deepseek-coder")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, bpe_falcon, "falcon")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(run, wordpiece_bert, "bert-bge")->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
