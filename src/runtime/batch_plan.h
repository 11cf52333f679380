// Which prompt tokens go into one forward pass beside the decode tokens.
//
// The scheduler fills each pass with every running sequence's next token
// first (decoding never stalls), then with prompt tokens in arrival order, up
// to the pass's token budget. A prompt is taken whole when it fits in what is
// left of the budget. One that does not fit waits for the next pass, unless
// no prompt tokens are in this pass yet (then it is chunked: long prompts
// still advance a full budget per pass). A prompt split at the end of a pass
// would get its first token only after the next pass anyway; its early part
// would just lengthen this pass, delaying every prompt that does finish here.
// Later prompts that fit still join (a prompt that waited is first in line,
// and so chunked if need be, in the next pass).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace hearth::runtime {

// remaining[i]: prompt tokens sequence i (in arrival order) still has to feed.
// Writes take[i], how many of them go into this pass (0: it waits); budget is
// what the decode tokens left of the pass (may be <= 0). take.size() must be
// remaining.size().
void plan_prompt_chunks(std::span<const size_t> remaining, int64_t budget, std::span<size_t> take);

}  // namespace hearth::runtime
