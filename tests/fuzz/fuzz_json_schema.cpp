// libFuzzer target: JSON mode's schema compiler and recognizer. The input's
// first line is a schema (any text: what does not parse as JSON stands for
// format "json"), the rest a document. Compiling must succeed or fail with
// an error; the recognizer must give the same verdict fed the document whole,
// byte by byte and in uneven pieces, and leave its state unchanged when it
// refuses a piece.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sampling/json_grammar.h"
#include "sampling/json_schema.h"

using hearth::sampling::JsonGrammar;
using hearth::sampling::JsonSchema;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view head = in.substr(0, nl), doc = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  std::shared_ptr<const JsonSchema> schema = JsonSchema::any_object();
  const nlohmann::json j = nlohmann::json::parse(head, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) {
    auto compiled = JsonSchema::compile(j, "format");
    if (compiled.ok()) schema = compiled.value();
    else if (compiled.status().message().rfind("format: JSON schema", 0) != 0) std::abort();  // errors name the field
  }
  JsonGrammar whole(schema);
  const bool ok_whole = whole.accept(doc);
  JsonGrammar bytes(schema);
  size_t accepted = 0;
  while (accepted < doc.size() && bytes.accept(doc.substr(accepted, 1))) ++accepted;
  JsonGrammar pieces(schema);
  bool ok_pieces = true;
  for (size_t at = 0, step = 1; at < doc.size() && ok_pieces; at += step, step = step % 7 + 1) {
    const std::string_view piece = doc.substr(at, step);
    const bool could = pieces.can_accept(piece);
    const bool did = pieces.accept(piece);
    if (could != did) std::abort();
    if (!did) {
      // Refused: the state is as before, so the shorter pieces still decide.
      for (char c : piece) {
        if (!pieces.accept(std::string_view(&c, 1))) break;
      }
      ok_pieces = false;
    }
  }
  if (ok_whole != (accepted == doc.size())) std::abort();
  if (ok_whole != ok_pieces) std::abort();
  if (ok_whole && whole.complete() != bytes.complete()) std::abort();
  return 0;
}
