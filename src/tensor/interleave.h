// Weights interleaved 16 rows at a time ("x16"), the layout the AVX-512 VNNI
// matrix kernels stream: for each block of inputs, the codes of 16 weight
// rows sit side by side so that one 512-bit register holds 4 codes of every
// row (one 32-bit lane per row), and the 16 rows' block scales load as one
// vector. One VNNI instruction then multiplies 4 inputs into all 16 rows, and
// the scale work (convert, scale, accumulate) is shared by 16 rows instead of
// done per row. Built once at load (model/repack.h).
//
// Code chunks: a row's block codes are cut into 4-byte pieces; chunk c (64
// bytes) holds piece c of every row, row r at bytes 4r..4r+3. A group (16
// rows, n inputs) is, per type:
//   Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (nb = n/32 blocks): blocks in pairs, [code
//     chunks of block 2k (Q5_x: then its masks)][the same of 2k+1][16 fp16
//     scales of 2k][16 scales of 2k+1] (Q4_1, Q5_1: then [16 fp16 mins of
//     2k][of 2k+1]) (X16Legacy), so the scales stream in line with the codes
//     (a separate scale stream measured 5-10% slower out of cache). Code
//     chunks: 4 of nibbles (low nibbles of chunk c are elements 4c.., high
//     ones 16+4c..), 8 for Q8_0 (stored unsigned as q ^ 0x80). Q5_x's fifth
//     bits as 64-bit masks, per chunk the low nibbles' then the high
//     nibbles' (bit 4r + k for lane byte 4r + k). The GGUF size, plus one
//     padded block when nb is odd.
//   Q4_K (nb = n/256 super-blocks), per super-block: the 16 rows' 8
//     sub-block scales and 8 mins in 6 bits each (X16KScales: 192 bytes),
//     16 fp16 d, 16 fp16 dmin, then 32 code chunks (chunk c: low nibbles are
//     elements 64(c/8) + 4(c%8).., high ones 32 further): 2304 bytes, the
//     GGUF size. Scales first, so the kernels read each super-block in
//     order. (With the scales and mins as whole bytes, 2368 bytes, the
//     kernels read 2.8% more than the file holds.)
//   Q5_K (nb = n/256), per super-block: scales and mins, d, dmin as Q4_K
//     (256 bytes), then per quarter p (elements 64p..64p+63) its 8 chunks'
//     high bits as 64-bit masks (chunk c: the low nibbles' mask, then the
//     high nibbles'; bit 4r + k is the fifth bit of the code at lane byte
//     4r + k) and its 8 code chunks (the Q4_K chunks 8p..8p+7): 2816 bytes,
//     the GGUF size. A mask drops into an AVX-512 byte mask register as it
//     is (one masked add of 16 per 64 codes).
//   Q3_K (nb = n/256), per super-block: the 16 signed scales (scale - 32) as
//     bytes paired for 16-bit lanes ([k][r][2]: scales 2k, 2k+1), then per half h (elements
//     128h..128h+127) its 8 code chunks (GGUF qs bytes 32h..32h+31) and the
//     high bits of its 4 quarters' 8 chunks as 64-bit masks ([quarter
//     j][chunk c]: code chunk c's bits 2j, 2j+1 are element 128h + 32j + 4c +
//     k's low two bits; the mask bit 4r + k its third), then 16 fp16 d: 1824
//     bytes for 16 × 110 in GGUF. Codes are unsigned (q + 4). (With the masks
//     before the codes, which the kernels read first, one thread out of cache
//     streamed a third as fast.)
//   Q2_K (nb = n/256), per super-block: the 16 scale | min << 4 bytes of
//     GGUF paired for 16-bit lanes, the 16 code chunks (Q3_K's without the
//     masks), 16 fp16 d, 16 fp16 dmin: 1344 bytes, the GGUF size.
//   F32, F16, BF16: per input k, the 16 rows' values (64 or 32 bytes), the
//     GGUF size. Their prepared activations are the row rounded to the type,
//     as floats.
//   Q6_K (nb = n/256), per super-block: the 16 signed scales as bytes, group
//     by group ([g][r]: 16g + r, so one sign-extending load gives a group's
//     16 scales as 32-bit lanes), then per group g (elements 16g..16g+15) its
//     four code chunks k (elements 16g + 4k..) packed into three 64-byte
//     vectors: byte 4r + i of vector k (0..2) holds chunk k's code in bits
//     0-5 and bits 2k, 2k+1 of chunk 3's code in bits 6-7 (X16Q6K), then 16
//     fp16 d: 3360 bytes, the GGUF size. Codes are unsigned (q + 32). Three
//     ANDs give chunks 0-2 and six operations chunk 3 (with GGUF's 4 + 2
//     bit planes, merging nibble and high bits took 13 per four chunks, and
//     the Q6_K kernel streamed a third slower than Q4_0 per byte in L2).
//     (With all ql chunks, then all qh, then the scales, the kernels' reads
//     jumped between three regions of each super-block and the hardware
//     prefetchers did not follow.)
// The unsigned code minus x16_offset is the signed weight (Q4_K: 0, its mins
// are separate; Q6_K: 32).
//
// Activations for these kernels are the type's vec_dot_type rows (Q8_0 or
// Q8_K) converted by x16_prepare_act (ActQ8 / ActQ8K blocks).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace hearth::tensor {

constexpr int kX16Rows = 16;

// Byte offsets inside one super-block of a Q4_K / Q6_K group (see above);
// the packers, the reference and the kernels all read them from here.
struct X16Q4K {
  static constexpr size_t kScaleMins = 0, kD = 192, kDmin = 224, kCodes = 256, kBytes = 2304;
};
struct X16Q5K {
  static constexpr size_t kScaleMins = 0, kD = 192, kDmin = 224, kBytes = 2816;
  // Quarter p's 8 pairs of masks (16 bytes per chunk) and its 8 code chunks.
  static constexpr size_t masks(int p) { return 256 + 640 * static_cast<size_t>(p); }
  static constexpr size_t codes(int p) { return masks(p) + 128; }
};
// The 16 rows' Q4_K / Q5_K sub-block scales and mins of one super-block, 6
// bits each. Logically 128 scale bytes [s][r] (index 16s + r) and 128 min
// bytes paired for 16-bit lanes ([k][r][2]: index 32k + 2r + s % 2 for the
// mins of sub-blocks s = 2k, 2k + 1), which is how the kernels unpack them;
// stored as 128 bytes (scale i & 15) | (min i & 15) << 4, then 64 bytes
// whose byte i holds the high two bits of scale i, scale i + 64, min i and
// min i + 64 (bits 0-1, 2-3, 4-5, 6-7).
struct X16KScales {
  static constexpr size_t kHigh = 128, kBytes = 192;
  static constexpr size_t min_index(int s, int r) { return static_cast<size_t>((s / 2) * 32 + 2 * r + s % 2); }
  static constexpr uint8_t scale(const uint8_t* sm, size_t i) {
    return static_cast<uint8_t>((sm[i] & 0xF) | (((sm[kHigh + (i & 63)] >> (2 * (i >> 6))) & 3) << 4));
  }
  static constexpr uint8_t min(const uint8_t* sm, size_t i) {
    return static_cast<uint8_t>((sm[i] >> 4) | (((sm[kHigh + (i & 63)] >> (4 + 2 * (i >> 6))) & 3) << 4));
  }
};
struct X16Q3K {
  static constexpr size_t kScales = 0, kD = 1792, kBytes = 1824;
  static constexpr size_t codes(int h) { return 256 + 768 * static_cast<size_t>(h); }
  static constexpr size_t masks(int h) { return codes(h) + 512; }
};
struct X16Q2K {
  static constexpr size_t kScales = 0, kD = 1280, kDmin = 1312, kBytes = 1344;
  static constexpr size_t codes(int h) { return 256 + 512 * static_cast<size_t>(h); }
};
struct X16Q6K {
  static constexpr size_t kScales = 0, kD = 3328, kBytes = 3360;
  // Group g's 16 scales, and its packed code vector k (0..2).
  static constexpr size_t scales(int g) { return kScales + 16 * static_cast<size_t>(g); }
  static constexpr size_t codes(int g, int k) { return 256 + 192 * static_cast<size_t>(g) + 64 * static_cast<size_t>(k); }
};

// Byte offsets of block b's code chunks, masks, scales and mins in a Q4_0 /
// Q4_1 / Q5_0 / Q5_1 / Q8_0 group.
struct X16Legacy {
  size_t code_bytes;  // one block's code chunks: 256 (nibbles) or 512 (Q8_0)
  size_t mask_bytes;  // its fifth bits (Q5_0, Q5_1: 64, per chunk the low then the high nibbles' mask) or 0
  bool mins;          // Q4_1, Q5_1: 16 fp16 mins per block after the pair's scales
  constexpr size_t block_bytes() const { return code_bytes + mask_bytes; }
  constexpr size_t pair_bytes() const { return 2 * block_bytes() + (mins ? 4 : 2) * kX16Rows * sizeof(uint16_t); }
  constexpr size_t codes(int64_t b) const {
    return static_cast<size_t>(b >> 1) * pair_bytes() + static_cast<size_t>(b & 1) * block_bytes();
  }
  constexpr size_t masks(int64_t b) const { return codes(b) + code_bytes; }
  constexpr size_t scales(int64_t b) const {
    return static_cast<size_t>(b >> 1) * pair_bytes() + 2 * block_bytes() +
           static_cast<size_t>(b & 1) * kX16Rows * sizeof(uint16_t);
  }
  constexpr size_t min_values(int64_t b) const { return scales(b) + 2 * kX16Rows * sizeof(uint16_t); }
};
constexpr X16Legacy x16_legacy(DType t) {
  switch (t) {
    case DType::kQ8_0: return {512, 0, false};
    case DType::kQ5_0: return {256, 64, false};
    case DType::kQ4_1: return {256, 0, true};
    case DType::kQ5_1: return {256, 64, true};
    default: return {256, 0, false};
  }
}

// Whether `t` has an interleaved layout (every matrix type: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0, Q2_K..Q6_K).
bool x16_supported(DType t);
// Bytes of one group of 16 rows of n inputs (n a multiple of the block size).
size_t x16_group_bytes(DType t, int64_t n);
// The unsigned-code offset: weight = code - offset (Q4_0: 8, Q5_0: 16, Q8_0: 128, Q3_K: 4, Q6_K: 32; Q4_1,
// Q5_1, Q2_K, Q4_K and Q5_K: 0, their mins are separate).
int x16_offset(DType t);

// Interleaves 16 rows (row r at src + r·row_stride, GGUF blocks) into one group.
void x16_pack(DType t, const uint8_t* src, size_t row_stride, int64_t n, uint8_t* dst);
// The inverse: writes row r of the group back as GGUF blocks (for tests).
void x16_unpack_row(DType t, const uint8_t* group, int64_t n, int r, uint8_t* dst);

// A Q8_0 / Q8_1 activation block with what the kernels need precomputed:
// the codes, the scale as float, and for Q8_0 -offset·Σcodes (so that
// dot(code_w - offset, x) starts from it), for Q8_1 its sum s = d·Σcodes (as
// the block stores it, in fp16) for the weights' mins.
struct ActQ8 {
  int8_t qs[32];
  float d;
  union {
    int32_t off;  // Q4_0, Q5_0, Q8_0
    float s;      // Q4_1, Q5_1
  };
};
static_assert(sizeof(ActQ8) == 40);

// A Q8_K activation super-block for K-quant weights: the codes, the scale,
// and code sums as int16 pairs for the offset/mins term: msum16[k] holds the
// sums of 16 codes 2k, 2k+1 (the Q8_K bsums; Q2_K, Q3_K, Q6_K's AVX2 kernel),
// msum32[k] the sums of the sub-blocks of 32 codes 2k, 2k+1 (Q4_K, Q5_K), and
// q6_off[g] -32 × group g's sum (Q6_K's AVX-512 kernel). One prepared row
// serves all K types, so Q4_K_M's Q4_K and Q6_K products of one input share it.
struct ActQ8K {
  int8_t qs[256];
  float d;
  int32_t msum16[8];
  int32_t msum32[4];
  int32_t q6_off[16];  // -32 · the sum of codes 16g..16g+15: Q6_K's code offset, where a group's dot starts
};
static_assert(sizeof(ActQ8K) == 372);

// Whether weights of types a and b take the same prepared activations
// (x16_prepare_act), so their products can share one.
bool x16_same_act(DType a, DType b);

// Bytes of one prepared activation row of n values.
size_t x16_act_bytes(DType t, int64_t n);
// Converts one row of n values in t's vec_dot_type (Q8_0 or Q8_K) into the
// prepared blocks (ActQ8 or ActQ8K) for weights of type t.
void x16_prepare_act(DType t, const void* xq, int64_t n, void* out);
// Reference for the kernels' fused version (Kernels::x16_act): quantizes one
// float row of n values block by block with the scalar reference quantizer of
// t's vec_dot_type and prepares it (the same bytes as the two steps above).
void x16_quantize_act(DType t, const float* x, int64_t n, void* out);

// Scalar reference: y[r] = dot(row r of the group, prepared activation row x)
// for the 16 rows, in the same order of operations as the type's vec_dot.
void x16_gemv_ref(DType t, int64_t n, const uint8_t* group, const void* x, float* y);

}  // namespace hearth::tensor
