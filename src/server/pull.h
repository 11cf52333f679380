// Pulling a model into the local store: from a local GGUF path, or from
// another hearth server (GET /api/manifests/<name>, GET /api/blobs/<digest>),
// verifying every blob's sha256 against the manifest.
#pragma once

#include <functional>
#include <string>

#include "store/store.h"

namespace hearth::server {

// SOURCE: a GGUF path (stored under its file name) or
// http://host:port/[namespace/]name[:tag] (stored under that name).
Status pull_model(store::Store& st, const std::string& source, const std::function<void(const std::string&)>& progress);

}  // namespace hearth::server

namespace hearth::server {

// `hearth create NAME -f Modelfile --quantize TYPE` and /api/create with
// "quantize": the FROM GGUF is re-quantized (model::quantize_file) into a
// temporary file that is imported, then removed. Empty `quantize`: plain create.
Result<store::Manifest> create_model(store::Store& st, const std::string& name, const std::string& modelfile_text,
                                     const std::string& base_dir, const std::string& quantize,
                                     const std::function<void(const std::string&)>& progress);

}  // namespace hearth::server
