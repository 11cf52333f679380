// Re-quantizing a GGUF model (`hearth quantize`), with the usual recipes:
// a base type for the 2-D weights, and for the K-quant mixes (Q3_K_M, Q4_K_M,
// Q5_K_M, …) some tensors kept at higher precision.
#pragma once

#include <string>

#include "core/dtype.h"
#include "hearth/status.h"

namespace hearth::model {

struct QuantizeOptions {
  std::string type;    // "Q4_0", "Q4_K_M", "F16", ...
  bool pure = false;   // every 2-D weight in the base type (no mix)
  int n_threads = 0;   // <= 0: physical cores
};

// Which tensor types a recipe gives; exposed for tests.
struct QuantRecipe {
  DType base;
  char mix = 0;  // 0 (plain), 'S', 'M' or 'L' (K-quant mixes)
};
Result<QuantRecipe> parse_quant_type(const std::string& name);

// Type for one tensor. `layer`/`n_layer` locate blocks; 1-D tensors stay F32.
DType choose_tensor_type(const QuantRecipe& r, bool pure, const std::string& name, int n_dims, int64_t row_len,
                         int layer, int n_layer, bool has_output);

Status quantize_file(const std::string& in_path, const std::string& out_path, const QuantizeOptions& opts);

}  // namespace hearth::model
