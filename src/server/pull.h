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
