#include "store/store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "core/json_depth.h"
#include "gguf/file.h"

namespace fs = std::filesystem;

namespace hearth::store {

namespace {

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error(dir + ": " + std::strerror(errno));
  ::fsync(fd);
  ::close(fd);
  return Status();
}

// Writes `data` to `path` atomically.
Status atomic_write(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return io_error(tmp + ": " + std::strerror(e));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return io_error(path + ": " + std::strerror(e));
  }
  return fsync_dir(fs::path(path).parent_path().string());
}

// An exclusive lock on the store for the lifetime of the object.
class StoreLock {
 public:
  explicit StoreLock(const std::string& home) {
    fd_ = ::open((home + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~StoreLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  int fd_;
};

}  // namespace

nlohmann::ordered_json Manifest::to_json() const {
  nlohmann::ordered_json msgs = nlohmann::ordered_json::array();
  for (const auto& [r, c] : modelfile.messages) msgs.push_back({{"role", r}, {"content", c}});
  nlohmann::ordered_json j = {{"schema_version", 1}, {"from", from}, {"model", model_digest}, {"model_size", model_size},
                              {"adapters", adapter_digests}, {"parameters", modelfile.parameters},
                              {"messages", msgs}, {"licenses", modelfile.licenses}, {"created_at", created_at}};
  if (modelfile.has_template) j["template"] = modelfile.template_text;
  if (modelfile.has_system) j["system"] = modelfile.system;
  return j;
}

Result<Manifest> Manifest::from_json(const nlohmann::ordered_json& j) {
  try {
    Manifest m;
    m.from = j.at("from").get<std::string>();
    m.model_digest = j.at("model").get<std::string>();
    m.model_size = j.at("model_size").get<uint64_t>();
    m.adapter_digests = j.value("adapters", std::vector<std::string>{});
    m.modelfile.from = m.from;
    m.modelfile.parameters = j.value("parameters", nlohmann::ordered_json::object());
    for (const auto& msg : j.value("messages", nlohmann::ordered_json::array()))
      m.modelfile.messages.emplace_back(msg.at("role").get<std::string>(), msg.at("content").get<std::string>());
    m.modelfile.licenses = j.value("licenses", std::vector<std::string>{});
    if (j.contains("template")) {
      m.modelfile.template_text = j["template"].get<std::string>();
      m.modelfile.has_template = true;
    }
    if (j.contains("system")) {
      m.modelfile.system = j["system"].get<std::string>();
      m.modelfile.has_system = true;
    }
    m.created_at = j.value("created_at", "");
    if (m.model_digest.rfind("sha256-", 0) != 0 || m.model_digest.size() != 71)
      return corrupt("manifest has an invalid model digest");
    return m;
  } catch (const std::exception& e) {
    return corrupt(std::string("manifest is malformed: ") + e.what());
  }
}

Store::Store(std::string home) : home_(std::move(home)), min_free_(128u << 20) {
  if (const char* m = std::getenv("HEARTH_MIN_FREE_DISK"); m && *m) {
    if (auto n = parse_byte_size(m)) min_free_ = *n;
    else std::fprintf(stderr, "hearth: HEARTH_MIN_FREE_DISK=%s is not a size (e.g. 2G); keeping %llu MiB free\n", m,
                      static_cast<unsigned long long>(min_free_ >> 20));
  }
  std::error_code ec;
  fs::create_directories(home_ + "/blobs", ec);
  fs::create_directories(home_ + "/manifests", ec);
}

std::string Store::default_home() {
  if (const char* h = std::getenv("HEARTH_HOME")) return h;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.hearth";
}

std::string Store::blob_path(const std::string& digest) const { return home_ + "/blobs/" + digest; }

bool Store::has_blob(const std::string& digest) const {
  auto d = normalize_digest(digest);
  return d && fs::is_regular_file(blob_path(*d));
}

Result<std::string> sha256_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? not_found(path + ": no such file") : io_error(path + ": " + std::strerror(errno));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 20);
  Status st;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) st = io_error(path + ": " + std::strerror(errno));
    if (n <= 0) break;
    EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(ctx, md, &md_len);
  EVP_MD_CTX_free(ctx);
  if (!st.ok()) return st;
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned i = 0; i < md_len; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return std::string("sha256-") + hex;
}

std::optional<std::string> normalize_digest(const std::string& text) {
  if (text.size() != 71 || (text.rfind("sha256-", 0) != 0 && text.rfind("sha256:", 0) != 0)) return std::nullopt;
  std::string d = "sha256-";
  for (size_t i = 7; i < text.size(); ++i) {
    const char c = text[i];
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    d += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return d;
}

namespace {
std::string size_text(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}
}  // namespace

std::optional<uint64_t> parse_byte_size(const std::string& text) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > (UINT64_MAX - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[i++] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string unit;
  for (; i < text.size(); ++i) unit += static_cast<char>(std::toupper(static_cast<unsigned char>(text[i])));
  int shift = 0;
  if (!unit.empty() && std::string("KMGT").find(unit[0]) != std::string::npos) {
    shift = 10 * (1 + static_cast<int>(std::string("KMGT").find(unit[0])));
    unit.erase(0, 1);
    if (unit == "IB" || unit == "B") unit.clear();
  } else if (unit == "B") {
    unit.clear();
  }
  if (!unit.empty() || (shift > 0 && n > (UINT64_MAX >> shift))) return std::nullopt;
  return n << shift;
}

Status Store::check_space(uint64_t more) const {
  struct statvfs sv {};
  const std::string dir = home_ + "/blobs";
  if (::statvfs(dir.c_str(), &sv) != 0) return io_error(dir + ": " + std::strerror(errno));
  const uint64_t free_bytes = static_cast<uint64_t>(sv.f_bavail) * static_cast<uint64_t>(sv.f_frsize);
  if (free_bytes >= min_free_ && free_bytes - min_free_ >= more) return Status();
  return no_space("not enough disk space for the model store at " + home_ + ": " + size_text(free_bytes) +
                  " free" + (more ? ", " + size_text(more) + " more needed" : "") + ", and " + size_text(min_free_) +
                  " is kept free (HEARTH_MIN_FREE_DISK)");
}

namespace {
constexpr uint64_t kSpaceCheckEvery = 16u << 20;
}  // namespace

Result<std::unique_ptr<BlobWriter>> BlobWriter::open(const Store& store, std::optional<uint64_t> expected_size) {
  if (expected_size) HEARTH_RETURN_IF_ERROR(store.check_space(*expected_size));
  std::unique_ptr<BlobWriter> w(new BlobWriter());
  w->store_ = &store;
  std::error_code ec;
  fs::create_directories(store.home() + "/blobs", ec);
  static std::atomic<uint64_t> counter{0};
  w->tmp_ = store.home() + "/blobs/.upload-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  w->fd_ = ::open(w->tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) {
    const int e = errno;
    w->tmp_.clear();
    return io_error(store.home() + "/blobs: " + std::strerror(e));
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  w->ctx_ = ctx;
  return w;
}

BlobWriter::~BlobWriter() {
  if (ctx_) EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

Status BlobWriter::write(const char* data, size_t n) {
  if (!error_.ok()) return error_;
  if (size_ + n >= next_check_) {  // (the first write checks too)
    if (Status st = store_->check_space(n); !st.ok()) return error_ = st;
    next_check_ = size_ + n + kSpaceCheckEvery;
  }
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
  for (size_t done = 0; done < n;) {
    ssize_t w = ::write(fd_, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == ENOSPC) return error_ = no_space(store_->home() + ": the disk is full");
    if (w < 0) return error_ = io_error(tmp_ + ": " + std::strerror(errno));
    done += static_cast<size_t>(w);
  }
  size_ += n;
  return Status();
}

Result<std::string> BlobWriter::commit(const std::string& expected) {
  if (!error_.ok()) return error_;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &md_len);
  char hex[2 * EVP_MAX_MD_SIZE + 1];
  for (unsigned i = 0; i < md_len; ++i) std::snprintf(hex + 2 * i, 3, "%02x", md[i]);
  const std::string digest = std::string("sha256-") + hex;
  if (!expected.empty() && digest != expected)
    return error_ = invalid_argument("digest mismatch: the upload is " + digest + ", not " + expected);
  if (::fsync(fd_) != 0) return error_ = io_error(tmp_ + ": " + std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  const std::string final_path = store_->blob_path(digest);
  std::error_code ec;
  if (fs::exists(final_path)) fs::last_write_time(final_path, fs::file_time_type::clock::now(), ec);  // fresh again
  else if (std::rename(tmp_.c_str(), final_path.c_str()) != 0) return error_ = io_error(final_path + ": " + std::strerror(errno));
  if (!fs::exists(tmp_)) tmp_.clear();  // moved into place
  HEARTH_RETURN_IF_ERROR(fsync_dir(store_->home() + "/blobs"));
  return digest;
}

Result<std::string> Store::import_blob(const std::string& path, uint64_t* size) {
  // One of this store's own blobs (a model uploaded, then created from): already in place.
  const fs::path p(path);
  std::error_code ec;
  if (auto d = normalize_digest(p.filename().string());
      d && *d == p.filename().string() && fs::equivalent(p.parent_path(), fs::path(home_) / "blobs", ec) && !ec &&
      fs::is_regular_file(p)) {
    if (size) *size = fs::file_size(p);
    return *d;
  }
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return errno == ENOENT ? not_found(path + ": no such file") : io_error(path + ": " + std::strerror(errno));
  struct stat sb {};
  const bool sized = ::fstat(in, &sb) == 0 && S_ISREG(sb.st_mode);
  auto w = BlobWriter::open(*this, sized ? std::optional<uint64_t>(static_cast<uint64_t>(sb.st_size)) : std::nullopt);
  if (!w.ok()) {
    ::close(in);
    return w.status();
  }
  std::vector<char> buf(1 << 20);
  Status st;
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) st = io_error(path + ": " + std::strerror(errno));
    if (n <= 0) break;
    st = w.value()->write(buf.data(), static_cast<size_t>(n));
    if (!st.ok()) break;
  }
  ::close(in);
  if (!st.ok()) return st;
  HEARTH_ASSIGN_OR_RETURN(std::string digest, w.value()->commit(""));
  if (size) *size = w.value()->size();
  return digest;
}

Result<std::string> Store::adopt_blob(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(std::string digest, sha256_file(path));
  const std::string final_path = blob_path(digest);
  std::error_code ec;
  if (fs::exists(final_path)) {
    fs::last_write_time(final_path, fs::file_time_type::clock::now(), ec);  // the same bytes: stored once
    fs::remove(path, ec);
  } else if (std::rename(path.c_str(), final_path.c_str()) != 0) {
    return io_error(final_path + ": " + std::strerror(errno));
  }
  HEARTH_RETURN_IF_ERROR(fsync_dir(home_ + "/blobs"));
  return digest;
}

Status Store::write_manifest(const ModelName& n, const Manifest& m) {
  std::string path = home_ + "/manifests/" + n.manifest_path();
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  if (ec) return io_error(path + ": " + ec.message());
  return atomic_write(path, m.to_json().dump(2));
}

Result<Manifest> Store::create(const std::string& name_text, const std::string& modelfile_text, const std::string& base_dir,
                               const std::function<void(const std::string&)>& progress) {
  auto say = [&](const std::string& s) {
    if (progress) progress(s);
  };
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_model_name(name_text));
  say("parsing modelfile");
  HEARTH_ASSIGN_OR_RETURN(Modelfile mf, parse_modelfile(modelfile_text));
  StoreLock lock(home_);
  Manifest m;
  m.from = mf.from;
  m.created_at = now_rfc3339();
  auto base = get(mf.from);
  if (base.ok()) {  // FROM another model: inherit, then override
    say("using existing model " + base->name.display());
    m.model_digest = base->manifest.model_digest;
    m.model_size = base->manifest.model_size;
    m.adapter_digests = base->manifest.adapter_digests;
    Modelfile merged = base->manifest.modelfile;
    for (const auto& [k, v] : mf.parameters.items()) merged.parameters[k] = v;
    if (mf.has_template) merged.template_text = mf.template_text, merged.has_template = true;
    if (mf.has_system) merged.system = mf.system, merged.has_system = true;
    if (!mf.messages.empty()) merged.messages = mf.messages;
    if (!mf.licenses.empty()) merged.licenses = mf.licenses;
    m.modelfile = merged;
  } else {
    std::string path = mf.from;
    if (!path.empty() && path[0] == '~') path = std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + path.substr(1);
    if (fs::path(path).is_relative()) path = (fs::path(base_dir) / path).string();
    if (!fs::is_regular_file(path) && external_)
      if (auto p = external_(mf.from)) path = *p;
    if (!fs::is_regular_file(path))
      return not_found("FROM " + mf.from + ": neither a model in the store nor a GGUF file");
    // Refuse files that are not GGUF models before copying them in.
    HEARTH_ASSIGN_OR_RETURN(gguf::File check, gguf::File::open(path));
    if (!check.find("general.architecture")) return invalid_argument("FROM " + mf.from + ": the GGUF has no general.architecture");
    say("importing model " + mf.from);
    HEARTH_ASSIGN_OR_RETURN(m.model_digest, import_blob(path, &m.model_size));
    m.modelfile = mf;
  }
  for (const auto& a : mf.adapters) {
    std::string path = fs::path(a).is_relative() ? (fs::path(base_dir) / a).string() : a;
    say("importing adapter " + a);
    HEARTH_ASSIGN_OR_RETURN(std::string d, import_blob(path));
    m.adapter_digests.push_back(d);
  }
  m.modelfile.from = m.from;
  say("writing manifest");
  HEARTH_RETURN_IF_ERROR(write_manifest(name, m));
  say("success");
  return m;
}

Result<StoredModel> Store::get(const std::string& name_text) const {
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_model_name(name_text));
  std::string path = home_ + "/manifests/" + name.manifest_path();
  std::ifstream in(path);
  if (!in) return not_found("model '" + name.display() + "' not found");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto j = core::parse_json_bounded<nlohmann::ordered_json>(text);
  if (j.is_discarded()) return corrupt("manifest of '" + name.display() + "' is not valid JSON");
  HEARTH_ASSIGN_OR_RETURN(Manifest m, Manifest::from_json(j));
  StoredModel s{name, m, ""};
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    std::tm tm{};
    gmtime_r(&st.st_mtime, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    s.modified_at = buf;
  }
  return s;
}

std::vector<StoredModel> Store::list() const {
  std::vector<StoredModel> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(home_ + "/manifests", ec); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file() || it->path().filename().string().find(".tmp.") != std::string::npos) continue;
    fs::path rel = fs::relative(it->path(), home_ + "/manifests");
    auto parts = std::vector<std::string>(rel.begin(), rel.end());
    if (parts.size() != 3) continue;
    auto m = get(parts[0] + "/" + parts[1] + ":" + parts[2]);
    if (m.ok()) out.push_back(m.value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name.display() < b.name.display(); });
  return out;
}

Status Store::copy(const std::string& src, const std::string& dst) {
  HEARTH_ASSIGN_OR_RETURN(StoredModel s, get(src));
  HEARTH_ASSIGN_OR_RETURN(ModelName d, parse_model_name(dst));
  StoreLock lock(home_);
  return write_manifest(d, s.manifest);
}

Status Store::put_manifest(const std::string& name_text, const Manifest& m) {
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_model_name(name_text));
  StoreLock lock(home_);
  if (!fs::exists(blob_path(m.model_digest))) return not_found("blob " + m.model_digest + " is not in the store");
  for (const auto& a : m.adapter_digests)
    if (!fs::exists(blob_path(a))) return not_found("blob " + a + " is not in the store");
  return write_manifest(name, m);
}

Status Store::remove(const std::string& name_text) {
  HEARTH_ASSIGN_OR_RETURN(ModelName name, parse_model_name(name_text));
  StoreLock lock(home_);
  std::string path = home_ + "/manifests/" + name.manifest_path();
  if (!fs::exists(path)) return not_found("model '" + name.display() + "' not found");
  std::set<std::string> freed;  // its blobs: gone now unless another model uses them
  if (auto m = get(name_text); m.ok()) {
    freed.insert(m->manifest.model_digest);
    freed.insert(m->manifest.adapter_digests.begin(), m->manifest.adapter_digests.end());
  }
  if (::unlink(path.c_str()) != 0) return io_error(path + ": " + std::strerror(errno));
  HEARTH_RETURN_IF_ERROR(fsync_dir(fs::path(path).parent_path().string()));
  return collect_garbage(freed);
}

Status Store::collect_garbage(const std::set<std::string>& freed) {
  std::set<std::string> used;
  for (const auto& m : list()) {
    used.insert(m.manifest.model_digest);
    for (const auto& a : m.manifest.adapter_digests) used.insert(a);
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(home_ + "/blobs", ec)) {
    std::string f = e.path().filename().string();
    // Unused blobs go: those of the model just removed at once, others (an
    // upload that no model uses yet: a client creates from it next) once
    // they are ten minutes old.
    if (f.rfind("sha256-", 0) == 0 && !used.count(f)) {
      const auto age = fs::file_time_type::clock::now() - fs::last_write_time(e.path(), ec);
      if (freed.count(f) || (!ec && age > std::chrono::minutes(10))) fs::remove(e.path(), ec);
    }
    if (f.rfind(".tmp-", 0) == 0 || f.rfind(".upload-", 0) == 0) {  // a create or upload that died: remove if stale
      auto age = fs::file_time_type::clock::now() - fs::last_write_time(e.path(), ec);
      if (!ec && age > std::chrono::hours(1)) fs::remove(e.path(), ec);
    }
  }
  return Status();
}

}  // namespace hearth::store
