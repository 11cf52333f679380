#include "tensor/type_ops.h"

#include <cstdlib>

namespace hearth::tensor {

namespace {

constexpr TypeOps kOps[] = {
    {DType::kF32, f32_to_float, float_to_f32, DType::kF32, vec_dot_f32},
    {DType::kF16, f16_to_float, float_to_f16, DType::kF16, vec_dot_f16},
    {DType::kBF16, bf16_to_float, float_to_bf16, DType::kBF16, vec_dot_bf16},
    {DType::kQ4_0, dequantize_q4_0, quantize_q4_0, DType::kQ8_0, vec_dot_q4_0},
    {DType::kQ4_1, dequantize_q4_1, quantize_q4_1, DType::kQ8_1, vec_dot_q4_1},
    {DType::kQ5_0, dequantize_q5_0, quantize_q5_0, DType::kQ8_0, vec_dot_q5_0},
    {DType::kQ5_1, dequantize_q5_1, quantize_q5_1, DType::kQ8_1, vec_dot_q5_1},
    {DType::kQ8_0, dequantize_q8_0, quantize_q8_0, DType::kQ8_0, vec_dot_q8_0},
    {DType::kQ8_1, dequantize_q8_1, quantize_q8_1, DType::kQ8_1, nullptr},
    {DType::kQ2_K, dequantize_q2_k, quantize_q2_k, DType::kQ8_K, vec_dot_q2_k},
    {DType::kQ3_K, dequantize_q3_k, quantize_q3_k, DType::kQ8_K, vec_dot_q3_k},
    {DType::kQ4_K, dequantize_q4_k, quantize_q4_k, DType::kQ8_K, vec_dot_q4_k},
    {DType::kQ5_K, dequantize_q5_k, quantize_q5_k, DType::kQ8_K, vec_dot_q5_k},
    {DType::kQ6_K, dequantize_q6_k, quantize_q6_k, DType::kQ8_K, vec_dot_q6_k},
    {DType::kQ8_K, dequantize_q8_k, quantize_q8_k, DType::kQ8_K, nullptr},
};

}  // namespace

const TypeOps& type_ops(DType t) {
  for (const auto& o : kOps)
    if (o.type == t) return o;
  std::abort();  // every DType has an entry
}

}  // namespace hearth::tensor
