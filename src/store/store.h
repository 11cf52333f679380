// The model store under HEARTH_HOME (default ~/.hearth): content-addressed
// blobs (blobs/sha256-<hex>) and one JSON manifest per model name
// (manifests/<namespace>/<name>/<tag>). Writes are atomic (temp file, fsync,
// rename); a blob is complete before any manifest names it, so a crash
// mid-create leaves a consistent store. Mutations take an exclusive lock on
// the store; reads are lock-free.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hearth/status.h"
#include "store/modelfile.h"
#include "store/name.h"

namespace hearth::store {

struct Manifest {
  std::string from;           // as the Modelfile wrote it
  std::string model_digest;   // "sha256-<hex>" of the GGUF
  uint64_t model_size = 0;
  std::vector<std::string> adapter_digests;
  Modelfile modelfile;        // parameters, template, system, messages, licenses (FROM = the original)
  std::string created_at;

  nlohmann::ordered_json to_json() const;
  static Result<Manifest> from_json(const nlohmann::ordered_json& j);
};

struct StoredModel {
  ModelName name;
  Manifest manifest;
  std::string modified_at;
};

class Store {
 public:
  explicit Store(std::string home);
  static std::string default_home();  // $HEARTH_HOME or ~/.hearth

  // Writes into the store leave this much of its filesystem free (default
  // 128 MiB, or $HEARTH_MIN_FREE_DISK: bytes, or with K/M/G/T): an upload,
  // pull or import that would go below it stops with kNoSpace, so a large
  // or hostile upload cannot fill the disk under the store's manifests.
  uint64_t min_free_bytes() const { return min_free_; }
  void set_min_free_bytes(uint64_t n) { min_free_ = n; }
  // kNoSpace unless `more` bytes fit on the store's filesystem above the reserve.
  Status check_space(uint64_t more) const;

  // Creates (or replaces) `name` from Modelfile text. FROM is a GGUF path
  // (relative paths are resolved against base_dir) or an existing model name.
  // `progress` receives status lines ("importing model", "writing manifest").
  Result<Manifest> create(const std::string& name, const std::string& modelfile_text, const std::string& base_dir,
                          const std::function<void(const std::string&)>& progress = {});
  Result<StoredModel> get(const std::string& name) const;
  std::vector<StoredModel> list() const;
  Status copy(const std::string& src, const std::string& dst);
  // Removes the name, then the blobs no manifest refers to: its own at once,
  // others (uploads not used yet) once they are ten minutes old.
  Status remove(const std::string& name);
  std::string blob_path(const std::string& digest) const;
  const std::string& home() const { return home_; }
  // Models outside the store that FROM may name (a server's models
  // directory): a name to its GGUF path, or nullopt. Set once, before use.
  void set_external_models(std::function<std::optional<std::string>(const std::string&)> find) {
    external_ = std::move(find);
  }

  // Writes a manifest whose blobs are already in the store (pull).
  Status put_manifest(const std::string& name, const Manifest& m);
  // Copies a file into the blob store (sha256 computed on the way); returns
  // its digest. A blob of this store is taken as it is.
  Result<std::string> import_blob(const std::string& path, uint64_t* size = nullptr);
  // Moves a file this process wrote inside the store's blobs folder (a
  // quantized model) into place under its digest, without copying it.
  Result<std::string> adopt_blob(const std::string& path);
  bool has_blob(const std::string& digest) const;

 private:
  Status write_manifest(const ModelName& n, const Manifest& m);
  Status collect_garbage(const std::set<std::string>& freed);
  std::string home_;
  uint64_t min_free_;
  std::function<std::optional<std::string>(const std::string&)> external_;
};

// "2G", "512M", "1048576" (K/M/G/T are powers of 1024; an optional B or iB
// follows), or nullopt.
std::optional<uint64_t> parse_byte_size(const std::string& text);

// A blob written as it arrives (an upload): hashed on the way into a
// temporary file of the store; commit() moves it into place when its sha256
// is the one expected. Dropped uncommitted, the temporary file goes.
class BlobWriter {
 public:
  // `expected_size`: the whole blob's size when known (a Content-Length),
  // checked against the free space at once.
  static Result<std::unique_ptr<BlobWriter>> open(const Store& store, std::optional<uint64_t> expected_size = {});
  ~BlobWriter();
  // Also kNoSpace when the store's filesystem nears its reserve (checked
  // every 16 MiB written).
  Status write(const char* data, size_t n);
  // `expected`: "sha256-<hex>"; a mismatch is kInvalidArgument naming both
  // and leaves the store as it was. Empty: any digest (an import).
  Result<std::string> commit(const std::string& expected);
  uint64_t size() const { return size_; }

 private:
  BlobWriter() = default;
  const Store* store_ = nullptr;
  std::string tmp_;
  int fd_ = -1;
  void* ctx_ = nullptr;  // EVP_MD_CTX
  uint64_t size_ = 0;
  uint64_t next_check_ = 0;  // size_ at which the free space is looked at again
  Status error_;
};

// A file's digest, "sha256-<hex>" (read through, not copied).
Result<std::string> sha256_file(const std::string& path);

// "sha256-<64 hex>" (also accepts Ollama's "sha256:<hex>"), or nullopt.
std::optional<std::string> normalize_digest(const std::string& text);

}  // namespace hearth::store
