#include "kernels/kernels.h"

#include "tensor/float_math.h"

namespace hearth::kernels {

namespace {

Kernels build(core::Isa isa) {
  Kernels k;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                  DType::kQ8_0, DType::kQ8_1, DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K,
                  DType::kQ8_K}) {
    const auto& ops = tensor::type_ops(t);
    k.vec_dot[static_cast<int>(t)] = ops.vec_dot;
    k.from_float[static_cast<int>(t)] = ops.from_float;
  }
  k.dot_f32_f16 = tensor::dot_f32_f16;
  k.axpy_f16 = tensor::axpy_f16;
  k.attn_scores_f16 = tensor::attn_scores_f16;
  k.attn_mix_f16 = tensor::attn_mix_f16;
  k.attn_scores_q8 = tensor::attn_scores_q8;
  k.attn_mix_q8 = tensor::attn_mix_q8;
  k.rms_norm = tensor::rms_norm;
  k.softmax = tensor::softmax;
  k.silu_mul = tensor::silu_mul;
  k.gelu = tensor::gelu;
  k.rope = tensor::rope;
  k.add = tensor::add;
  core::Isa best = core::best_isa();
  if (static_cast<int>(isa) > static_cast<int>(best)) isa = best;
  k.isa = isa;
  if (isa >= core::Isa::kAvx2) register_avx2(k);
  if (isa >= core::Isa::kAvx512) register_avx512(k);
  return k;
}

}  // namespace

const Kernels& for_isa(core::Isa isa) {
  static const Kernels scalar = build(core::Isa::kScalar);
  static const Kernels avx2 = build(core::Isa::kAvx2);
  static const Kernels avx512 = build(core::Isa::kAvx512);
  switch (isa) {
    case core::Isa::kScalar: return scalar;
    case core::Isa::kAvx2: return avx2;
    case core::Isa::kAvx512: return avx512;
  }
  return scalar;
}

const Kernels& active() {
  static const Kernels& k = for_isa(core::best_isa());
  return k;
}

}  // namespace hearth::kernels
