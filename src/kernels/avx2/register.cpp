#include "kernels/kernels.h"

namespace hearth::kernels {

void register_avx2(Kernels& k) { (void)k; }

}  // namespace hearth::kernels
