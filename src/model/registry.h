// Architecture registry: `general.architecture` -> loader. Adding a model
// family is one file with its loader plus one line in registry.cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gguf/file.h"
#include "hearth/status.h"

namespace hearth::model {

class Model;
using ArchLoader = Status (*)(Model& m);

struct ArchEntry {
  const char* name;
  ArchLoader load;
};

const std::vector<ArchEntry>& architectures();

Status load_llama(Model& m);
Status load_qwen2(Model& m);

}  // namespace hearth::model
