// libFuzzer target: the GGUF reader on arbitrary bytes must return a Status,
// never crash, hang or allocate without bound.
#include <cstddef>
#include <cstdint>

#include "gguf/file.h"
#include "model/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = hearth::gguf::File::parse(data, size, "fuzz");
  if (!f.ok()) return 0;
  // Touch what a loader reads: metadata rendering and every tensor's bytes.
  for (const auto& [k, v] : f->metadata()) (void)v.to_string();
  uint8_t acc = 0;
  for (const auto& t : f->tensors())
    if (t.n_bytes) acc ^= t.data[0] ^ t.data[t.n_bytes - 1];
  (void)acc;
  // And model binding on top of it (hyper-parameters, tensor shapes).
  auto shared = std::make_shared<hearth::gguf::File>(std::move(f.value()));
  auto m = hearth::model::Model::from_file(shared);
  (void)m;
  return 0;
}
