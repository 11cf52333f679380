// How deeply a JSON text nests arrays and objects, found by a scan before it
// is parsed. nlohmann::json parses any depth, but its copies, dumps,
// comparisons and conversions recurse once per level: a request body of
// 50000 nested objects (2 bytes a level) overflowed a server thread's stack
// far from the parser. Texts from outside (request bodies, model output,
// registry answers, files) are refused past kMaxJsonDepth instead.
#pragma once

#include <cstddef>
#include <string_view>

namespace hearth::core {

// Generous for any real document (Go's encoding/json allows 10000; chat
// requests and schemas nest a few tens), small enough for every recursion.
constexpr size_t kMaxJsonDepth = 512;

// The deepest nesting of `[` and `{` outside strings (0 for a scalar). Not a
// validator: unbalanced or malformed texts get a depth too, and the parser
// reports what is wrong with them.
size_t json_depth(std::string_view text);

// Json::parse(text) without exceptions, discarded (as for a syntax error)
// when the text nests deeper than kMaxJsonDepth. Json: an nlohmann type.
template <class Json>
Json parse_json_bounded(std::string_view text) {
  if (json_depth(text) > kMaxJsonDepth) return Json(Json::value_t::discarded);
  return Json::parse(text, nullptr, /*allow_exceptions=*/false);
}

}  // namespace hearth::core
