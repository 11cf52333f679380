// libFuzzer target: every tokenizer family on arbitrary bytes (invalid UTF-8,
// NULs, special-token text) must encode to valid ids and decode without
// crashing; byte-level BPE must round-trip.
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "tokenizer/tokenizer.h"

namespace {

std::vector<std::shared_ptr<const hearth::tokenizer::Tokenizer>> g_tokenizers;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* shared = std::getenv("HEARTH_SHARED");
  std::string dir = shared ? shared : "../shared";
  for (const char* name : {"llama-spm", "gpt-2", "bert-bge", "deepseek-coder", "falcon", "phi-3"}) {
    auto f = hearth::gguf::File::open(dir + "/vocab/ggml-vocab-" + name + ".gguf");
    if (!f.ok()) {
      std::fprintf(stderr, "fuzz_tokenizer: %s\n", f.status().to_string().c_str());
      std::abort();
    }
    auto t = hearth::tokenizer::Tokenizer::load(f.value());
    if (!t.ok()) std::abort();
    g_tokenizers.push_back(t.value());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& t : g_tokenizers) {
    for (bool special : {false, true}) {
      auto ids = t->encode(text, special, special);
      for (auto id : ids)
        if (!t->vocab().valid(id)) std::abort();
      std::string back = t->decode(ids, special);
      if (t == g_tokenizers[1] && !special && back != text) std::abort();  // gpt-2: lossless
    }
  }
  return 0;
}
