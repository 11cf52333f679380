#include "store/name.h"

namespace hearth::store {

namespace {

bool valid_part(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max || s[0] == '.' || s[0] == '-') return false;
  for (unsigned char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  return s.find("..") == std::string::npos;
}

}  // namespace

std::string ModelName::display() const { return (ns == "library" ? "" : ns + "/") + name + ":" + tag; }

std::string ModelName::manifest_path() const { return ns + "/" + name + "/" + tag; }

Result<ModelName> parse_model_name(const std::string& text) {
  if (text.empty() || text.size() > 256) return invalid_argument("model name must be 1 to 256 characters");
  ModelName n;
  std::string rest = text;
  size_t slash = rest.find('/');
  if (slash != std::string::npos) {
    n.ns = rest.substr(0, slash);
    rest = rest.substr(slash + 1);
    if (rest.find('/') != std::string::npos) return invalid_argument("model name '" + text + "' has more than one '/'");
  }
  size_t colon = rest.find(':');
  if (colon != std::string::npos) {
    n.tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
  }
  n.name = rest;
  if (!valid_part(n.ns, 80) || !valid_part(n.name, 80) || !valid_part(n.tag, 80))
    return invalid_argument("invalid model name '" + text +
                            "': use letters, digits, '.', '_' and '-' (not leading '.' or '-'), as [namespace/]name[:tag]");
  return n;
}

}  // namespace hearth::store
