// Model names as users write them: [namespace/]name[:tag], "library" and
// "latest" by default. Validation is strict (a small ASCII alphabet, bounded
// lengths, no leading dot), so no name can map to a path outside the store.
#pragma once

#include <string>

#include "hearth/status.h"

namespace hearth::store {

struct ModelName {
  std::string ns = "library";
  std::string name;
  std::string tag = "latest";

  // "name:tag", or "ns/name:tag" outside the default namespace.
  std::string display() const;
  // Relative path of the manifest: ns/name/tag.
  std::string manifest_path() const;
};

Result<ModelName> parse_model_name(const std::string& text);

}  // namespace hearth::store
