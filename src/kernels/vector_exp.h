// The constants of the vector exp that the softmax and SiLU·gate kernels of
// every ISA share (Cephes' expf): x = n·ln2 + r with ln2 split in two parts
// (kLn2Hi exact in few bits, so n·kLn2Hi is exact), exp(r) by a degree-6
// polynomial (Horner from kPoly[0]: r² · P(r) + r + 1), 2^n built in the
// exponent bits. Inputs are clamped to [kMin, kMax] so that 2^n stays a
// normal float; relative error ~1e-7. Reference: std::exp in tensor/.
#pragma once

namespace hearth::kernels::vexp {

inline constexpr float kMin = -87.33654475f, kMax = 88.37626266f;
// The softmax kernels' exp is 0 below this (exp(kFlush) = 1.6e-38 is still a
// normal float; the true values below it are under 1.2e-38).
inline constexpr float kFlush = -87.0f;
inline constexpr float kLog2e = 1.44269504089f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
inline constexpr float kPoly[6] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                   4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

}  // namespace hearth::kernels::vexp
