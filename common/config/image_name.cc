#include "common/config/image_name.h"

namespace cwb {

std::string FullImageName(std::string_view reference) {
  const std::string ref(reference);
  const size_t slash = ref.find('/');
  if (slash == std::string::npos) return "docker.io/library/" + ref;
  const std::string first = ref.substr(0, slash), rest = ref.substr(slash + 1);
  const bool registry = first.find_first_of(".:") != std::string::npos || first == "localhost";
  if (!registry) return "docker.io/" + ref;
  if ((first == "docker.io" || first == "index.docker.io") && rest.find('/') == std::string::npos) {
    return "docker.io/library/" + rest;
  }
  if (first == "index.docker.io") return "docker.io/" + rest;
  return ref;
}

}  // namespace cwb
