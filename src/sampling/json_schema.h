// A JSON schema compiled for constrained decoding (Ollama `format: {schema}`,
// OpenAI `response_format: {"type": "json_schema", ...}`): the subset that
// structured-output clients (zod-to-json-schema, pydantic) produce for plain
// records, checked byte by byte by sampling::JsonGrammar.
//
// Supported: `type` (a name or a list: object, array, string, number,
// integer, boolean, null), `properties`, `required`, `additionalProperties`
// (true, false or a schema; absent: any), `items` (one schema, or false),
// tuples (`prefixItems`, or draft 7's `items` list with `additionalItems`),
// `minItems`,
// `maxItems`, `minLength`, `maxLength` (characters: code points, an escape
// counting as one), `pattern` (sampling/json_pattern.h), `minimum` / `maximum` / `exclusiveMinimum` /
// `exclusiveMaximum` on integers (a number type with them is refused),
// `enum`, `const`; `$ref` to a local definition
// (`#/$defs/Name`, `#/definitions/Name`, any `#/...` JSON pointer into the
// document; references may recurse); `anyOf` and `oneOf` (taken as anyOf:
// a value matching two alternatives is accepted; pydantic's Optional fields,
// unions of records) and `allOf` of one schema, each without assertion
// keywords beside it. Annotations (`title`,
// `description`, `$schema`, `$id`, `$comment`, `default`, `examples`,
// `format` — an annotation unless a validator opts in, as the JSON Schema
// specification says) are ignored. Any other keyword (`multipleOf`,
// `uniqueItems`, ...) or a remote `$ref` is refused with an error naming it
// and where it is, rather than silently not enforced. Properties may come in any order; each at most once; the
// required ones before the object closes.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hearth/status.h"
#include "sampling/json_pattern.h"

namespace hearth::sampling {

struct JsonSchema {
  enum TypeBits : uint8_t {
    kObject = 1, kArray = 2, kString = 4, kNumber = 8, kInteger = 16, kBoolean = 32, kNull = 64,
    kAnyType = 127,
  };
  static constexpr int kAny = 0;        // nodes[kAny]: any JSON value
  static constexpr int kNotAllowed = -1;  // additionalProperties: false
  static constexpr size_t kMaxProperties = 64;

  struct Node {
    uint8_t types = kAnyType;              // kNumber admits integers too
    std::vector<std::string> enum_values;  // compact JSON texts; non-empty: the value is one of them
    std::vector<std::string> names;        // properties: names as they appear between quotes (JSON-escaped)
    std::vector<int> values;               // properties: their schemas
    uint64_t required = 0;                 // bit i: names[i] is required
    int additional = kAny;                 // other properties' schema, or kNotAllowed
    int items = kAny;              // items past prefix_items
    std::vector<int> prefix_items;  // tuples: the schemas of the first items, in order
    int64_t min_items = 0, max_items = -1;    // -1: no limit
    int64_t min_length = 0, max_length = -1;  // strings, in characters; -1: no limit
    std::shared_ptr<const JsonPattern> pattern;  // strings: `pattern`, or null
    // Integers (minimum / maximum / exclusive*, made inclusive); only on
    // schemas whose type is integer alone.
    int64_t minimum = INT64_MIN, maximum = INT64_MAX;
    // Non-empty: the value is one of these schemas (anyOf / oneOf; a $ref or
    // allOf of one is a single alternative): JsonGrammar follows each whose
    // `first` admits the value's first byte; the fields above are unused.
    std::vector<int> alternatives;
    uint8_t first = 0;  // TypeBits a value of this schema can begin as (kInteger folded into kNumber)
  };
  std::vector<Node> nodes;
  int root = kAny;

  const Node& node(int i) const { return nodes[static_cast<size_t>(i)]; }

  // Errors are kInvalidArgument and start with `what` ("format").
  static Result<std::shared_ptr<const JsonSchema>> compile(const nlohmann::json& schema, const std::string& what);
  // The kinds of value (TypeBits, numbers as kNumber) byte c can begin; 0: none.
  static uint8_t first_kind(unsigned char c);
  // Any JSON object: Ollama's format "json".
  static std::shared_ptr<const JsonSchema> any_object();
};

}  // namespace hearth::sampling
