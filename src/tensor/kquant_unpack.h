// A K-quant super-block unpacked to plain integers: 256 quants, and for each
// group of 16 an integer scale and min. Every K type decodes as
//   x[i] = (d * scale[g]) * q[i] - (dmin * min[g]),   g = i / 16
// which is what the scalar reference dequantizes and dots with.
#pragma once

#include <cstdint>

#include "tensor/blocks.h"

namespace hearth::tensor {

struct KUnpacked {
  int8_t q[kQK_K];
  int16_t scale[kQK_K / 16];
  int16_t min[kQK_K / 16];
  float d;
  float dmin;
};

void unpack_q2_k(const BlockQ2_K& b, KUnpacked* u);
void unpack_q3_k(const BlockQ3_K& b, KUnpacked* u);
void unpack_q4_k(const BlockQ4_K& b, KUnpacked* u);
void unpack_q5_k(const BlockQ5_K& b, KUnpacked* u);
void unpack_q6_k(const BlockQ6_K& b, KUnpacked* u);

// The 6-bit scale and min of sub-block j (0..7) packed in Q4_K/Q5_K scales[12].
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

}  // namespace hearth::tensor
