#include "kernels/avx2/kernels_avx2.h"
#include "kernels/kernels.h"

namespace hearth::kernels {

void register_avx2(Kernels& k) {
  auto set = [&](DType t, tensor::VecDotFn f) {
    k.vec_dot[static_cast<int>(t)] = f;
    k.fast_vec_dot[static_cast<int>(t)] = true;
  };
  set(DType::kF32, avx2::vec_dot_f32);
  set(DType::kF16, avx2::vec_dot_f16);
  set(DType::kBF16, avx2::vec_dot_bf16);
  set(DType::kQ4_0, avx2::vec_dot_q4_0);
  set(DType::kQ4_1, avx2::vec_dot_q4_1);
  set(DType::kQ5_0, avx2::vec_dot_q5_0);
  set(DType::kQ5_1, avx2::vec_dot_q5_1);
  set(DType::kQ8_0, avx2::vec_dot_q8_0);
  set(DType::kQ2_K, avx2::vec_dot_q2_k);
  set(DType::kQ3_K, avx2::vec_dot_q3_k);
  set(DType::kQ4_K, avx2::vec_dot_q4_k);
  set(DType::kQ5_K, avx2::vec_dot_q5_k);
  set(DType::kQ6_K, avx2::vec_dot_q6_k);
  k.dot_f32_f16 = avx2::dot_f32_f16;
  k.axpy_f16 = avx2::axpy_f16;
  k.attn_scores_f16 = avx2::attn_scores_f16;
  k.attn_mix_f16 = avx2::attn_mix_f16;
  k.attn_scores_q8 = avx2::attn_scores_q8;
  k.attn_mix_q8 = avx2::attn_mix_q8;
  k.rms_norm = avx2::rms_norm;
  k.softmax = avx2::softmax;
  k.silu_mul = avx2::silu_mul;
  k.gelu = avx2::gelu;
  k.rope = avx2::rope;
  k.from_float[static_cast<int>(DType::kF16)] = avx2::float_to_f16;
  k.add = avx2::add;
  k.gemm_x16[static_cast<int>(DType::kF32)] = avx2::gemm_x16_f32;
  k.gemm_x16[static_cast<int>(DType::kF16)] = avx2::gemm_x16_f16;
  k.gemm_x16[static_cast<int>(DType::kBF16)] = avx2::gemm_x16_bf16;
  k.x16_act[static_cast<int>(DType::kF16)] = avx2::x16_act_f16;
  k.gemm_x16[static_cast<int>(DType::kQ4_0)] = avx2::gemm_x16_q4_0;
  k.gemm_x16[static_cast<int>(DType::kQ4_1)] = avx2::gemm_x16_q4_1;
  k.gemm_x16[static_cast<int>(DType::kQ5_1)] = avx2::gemm_x16_q5_1;
  k.gemm_x16[static_cast<int>(DType::kQ5_0)] = avx2::gemm_x16_q5_0;
  k.gemm_x16[static_cast<int>(DType::kQ8_0)] = avx2::gemm_x16_q8_0;
  k.gemm_x16[static_cast<int>(DType::kQ4_K)] = avx2::gemm_x16_q4_k;
  k.gemm_x16[static_cast<int>(DType::kQ2_K)] = avx2::gemm_x16_q2_k;
  k.gemm_x16[static_cast<int>(DType::kQ3_K)] = avx2::gemm_x16_q3_k;
  k.gemm_x16[static_cast<int>(DType::kQ5_K)] = avx2::gemm_x16_q5_k;
  k.gemm_x16[static_cast<int>(DType::kQ6_K)] = avx2::gemm_x16_q6_k;
}

}  // namespace hearth::kernels
