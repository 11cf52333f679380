// Pulling a model into the local store: from a local GGUF path, or from
// another hearth server (GET /api/manifests/<name>, GET /api/blobs/<digest>),
// verifying every blob's sha256 against the manifest.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace hearth::server {

// SOURCE: a GGUF path (stored under its file name) or
// http://host:port/[namespace/]name[:tag] (stored under that name).
Status pull_model(store::Store& st, const std::string& source, const std::function<void(const std::string&)>& progress);

// What `push_model` sends: a model's GGUF and adapters (paths and sha256
// digests) and the Modelfile settings that go with them.
struct PushSource {
  std::string model_path, model_digest;
  std::vector<std::pair<std::string, std::string>> adapters;  // (path, digest)
  store::Modelfile modelfile;
};

// A store model, or a GGUF file (its digest computed).
Result<PushSource> push_source(store::Store* st, const std::string& name_or_path);

// DESTINATION: http://host:port/[namespace/]name[:tag] of a hearth or Ollama
// server. Each blob it lacks (HEAD /api/blobs/<digest>) is uploaded (POST),
// then the model is created there from them (POST /api/create with files,
// adapters, template, system, parameters, messages, license).
Status push_model(const PushSource& src, const std::string& destination,
                  const std::function<void(const std::string&)>& progress);

}  // namespace hearth::server

namespace hearth::server {

// `hearth create NAME -f Modelfile --quantize TYPE` and /api/create with
// "quantize": the FROM GGUF is re-quantized (model::quantize_file) into a
// temporary file that is imported, then removed. Empty `quantize`: plain create.
Result<store::Manifest> create_model(store::Store& st, const std::string& name, const std::string& modelfile_text,
                                     const std::string& base_dir, const std::string& quantize,
                                     const std::function<void(const std::string&)>& progress);

}  // namespace hearth::server
