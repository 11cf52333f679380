#include "kernels/avx512/kernels_avx512.h"
#include "kernels/kernels.h"

namespace hearth::kernels {

void register_avx512(Kernels& k) {
  if (!core::cpu_features().avx512vnni) return;  // the integer kernels need VNNI
  auto set = [&](DType t, tensor::VecDotFn f) {
    k.vec_dot[static_cast<int>(t)] = f;
    k.fast_vec_dot[static_cast<int>(t)] = true;
  };
  set(DType::kF32, avx512::vec_dot_f32);
  set(DType::kF16, avx512::vec_dot_f16);
  set(DType::kBF16, avx512::vec_dot_bf16);
  set(DType::kQ4_1, avx512::vec_dot_q4_1);
  set(DType::kQ5_1, avx512::vec_dot_q5_1);
  set(DType::kQ4_0, avx512::vec_dot_q4_0);
  set(DType::kQ5_0, avx512::vec_dot_q5_0);
  set(DType::kQ8_0, avx512::vec_dot_q8_0);
  // Q2_K, Q3_K, Q5_K keep the AVX2 dot products (GGUF layout, used for rows
  // past the last group of 16): a 512-bit version over the same unpacking
  // ran 8-27% slower (one thread, 2048 x 2048, in cache and out).
  set(DType::kQ4_K, avx512::vec_dot_q4_k);
  set(DType::kQ6_K, avx512::vec_dot_q6_k);
  k.vec_dot_rows[static_cast<int>(DType::kQ4_0)] = avx512::vec_dot_rows_q4_0;
  k.vec_dot_rows[static_cast<int>(DType::kQ8_0)] = avx512::vec_dot_rows_q8_0;
  k.vec_dot_rows[static_cast<int>(DType::kQ4_K)] = avx512::vec_dot_rows_q4_k;
  k.vec_dot_rows[static_cast<int>(DType::kQ6_K)] = avx512::vec_dot_rows_q6_k;
  k.from_float[static_cast<int>(DType::kQ8_0)] = avx512::quantize_q8_0;
  k.from_float[static_cast<int>(DType::kQ8_K)] = avx512::quantize_q8_k;
  k.pack_act[static_cast<int>(DType::kQ4_0)] = avx512::pack_q8_0_for_q4_0;
  k.tile[static_cast<int>(DType::kQ4_0)] = avx512::tile_q4_0;
  k.pack_act[static_cast<int>(DType::kQ8_0)] = avx512::pack_q8_0_for_q8_0;
  k.tile[static_cast<int>(DType::kQ8_0)] = avx512::tile_q8_0;
  k.attn_scores_f16 = avx512::attn_scores_f16;
  k.attn_mix_f16 = avx512::attn_mix_f16;
  k.attn_scores_q8 = avx512::attn_scores_q8;
  k.attn_mix_q8 = avx512::attn_mix_q8;
  k.rms_norm = avx512::rms_norm;
  k.softmax = avx512::softmax;
  k.silu_mul = avx512::silu_mul;
  k.gelu = avx512::gelu;
  k.gemm_x16[static_cast<int>(DType::kF32)] = avx512::gemm_x16_f32;
  k.gemm_x16[static_cast<int>(DType::kF16)] = avx512::gemm_x16_f16;
  k.gemm_x16[static_cast<int>(DType::kBF16)] = avx512::gemm_x16_bf16;
  k.gemm_x16[static_cast<int>(DType::kQ4_0)] = avx512::gemm_x16_q4_0;
  k.gemm_x16[static_cast<int>(DType::kQ4_1)] = avx512::gemm_x16_q4_1;
  k.gemm_x16[static_cast<int>(DType::kQ5_1)] = avx512::gemm_x16_q5_1;
  k.gemm_x16[static_cast<int>(DType::kQ5_0)] = avx512::gemm_x16_q5_0;
  k.gemm_x16[static_cast<int>(DType::kQ8_0)] = avx512::gemm_x16_q8_0;
  k.gemm_x16[static_cast<int>(DType::kQ4_K)] = avx512::gemm_x16_q4_k;
  k.gemm_x16[static_cast<int>(DType::kQ2_K)] = avx512::gemm_x16_q2_k;
  k.gemm_x16[static_cast<int>(DType::kQ3_K)] = avx512::gemm_x16_q3_k;
  k.gemm_x16[static_cast<int>(DType::kQ5_K)] = avx512::gemm_x16_q5_k;
  k.gemm_x16[static_cast<int>(DType::kQ6_K)] = avx512::gemm_x16_q6_k;
  k.x16_act[static_cast<int>(DType::kQ4_0)] = avx512::x16_act_q4_0;
  k.x16_act[static_cast<int>(DType::kQ5_0)] = avx512::x16_act_q5_0;
  k.x16_act[static_cast<int>(DType::kQ8_0)] = avx512::x16_act_q8_0;
  k.x16_act[static_cast<int>(DType::kQ4_K)] = avx512::x16_act_k;
  k.x16_act[static_cast<int>(DType::kQ2_K)] = avx512::x16_act_k;
  k.x16_act[static_cast<int>(DType::kQ3_K)] = avx512::x16_act_k;
  k.x16_act[static_cast<int>(DType::kQ5_K)] = avx512::x16_act_k;
  k.x16_act[static_cast<int>(DType::kQ6_K)] = avx512::x16_act_k;
}

}  // namespace hearth::kernels
