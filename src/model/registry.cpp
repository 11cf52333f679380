#include "model/registry.h"

namespace hearth::model {

const std::vector<ArchEntry>& architectures() {
  static const std::vector<ArchEntry> kArchs = {
      {"llama", load_llama},
      {"qwen2", load_qwen2},
  };
  return kArchs;
}

}  // namespace hearth::model
