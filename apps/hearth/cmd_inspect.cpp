// hearth inspect MODEL.gguf: metadata, tensors, types, sizes, parameter count.
#include <cstdio>
#include <map>

#include "commands.h"
#include "gguf/file.h"

namespace hearth::app {

void add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a GGUF file's metadata and tensors");
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  cmd->add_option("model", *path, "GGUF file")->required();
  cmd->add_flag("--all", *all, "print whole arrays instead of abbreviating them");
  cmd->callback([path, all] {
    auto f = gguf::File::open(*path);
    if (!f.ok()) throw CLI::RuntimeError(fail(f.status()));
    std::printf("file: %s\nGGUF version: %u, alignment: %u, size: %zu bytes\n", path->c_str(), f->version(),
                f->alignment(), f->file_size());
    std::printf("\nmetadata (%zu keys):\n", f->metadata().size());
    for (const auto& [k, v] : f->metadata()) {
      std::string type = gguf::value_type_name(v.type);
      if (v.type == gguf::ValueType::kArray) type += std::string("<") + gguf::value_type_name(v.arr->elem_type) + ">";
      std::printf("  %-44s %-16s %s\n", k.c_str(), type.c_str(), v.to_string(*all ? SIZE_MAX : 8).c_str());
    }
    int64_t params = 0;
    size_t bytes = 0;
    std::map<std::string, int> types;
    std::printf("\ntensors (%zu):\n", f->tensors().size());
    for (const auto& t : f->tensors()) {
      std::printf("  %-36s %-6s %-22s %10zu bytes\n", t.name.c_str(), dtype_name(t.type), t.shape_string().c_str(), t.n_bytes);
      params += t.n_elements();
      bytes += t.n_bytes;
      types[dtype_name(t.type)]++;
    }
    std::printf("\nparameters: %lld (%.2f M), tensor data: %.2f MiB\ntypes:", static_cast<long long>(params),
                params / 1e6, bytes / 1048576.0);
    for (const auto& [n, c] : types) std::printf(" %s×%d", n.c_str(), c);
    std::printf("\n");
  });
}

}  // namespace hearth::app
