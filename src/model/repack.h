// Load-time repacking of weight matrices into the layout the active kernels
// stream fastest (today: rows interleaved 16 at a time for Q4_0/Q8_0 when the
// CPU has AVX-512 VNNI). The source is read from the file rather than through
// the mapping, so the repacked copy takes the place of those pages in resident
// memory instead of adding to them. HEARTH_REPACK=0 turns repacking off.
#pragma once

#include <span>

#include "core/anon_memory.h"
#include "gguf/file.h"
#include "kernels/kernels.h"
#include "model/weight.h"

namespace hearth::model {

// Whether repacking is enabled (HEARTH_REPACK, default on).
bool repack_enabled();

// Repacks every weight of `weights` that the kernel table `k` has an
// interleaved product for, setting its x16 fields to point into the returned
// memory (which must outlive the weights). Copies 1-row weights (norms,
// biases), and when anything was interleaved the other weights too, there,
// rebinding their data, so the forward pass no longer reads the mapping.
// Weights may repeat (tied embeddings): each distinct tensor is copied once.
// Uses n_threads threads. The memory is in huge pages, or, when fresh huge
// pages are slow to commit (a VM whose host takes free memory back: 3-5×
// the load time), filled in small pages and moved into huge pages in the
// background afterwards (core::AnonMemory::Pages::kHugeAuto).
Result<core::AnonMemory> repack_weights(std::span<Weight* const> weights, const gguf::File& source,
                                        const kernels::Kernels& k, int n_threads);

}  // namespace hearth::model
