#include "core/yaml_text.h"

namespace fastgpu {

YamlText load_yaml_text(const std::string& text) {
  YamlText loaded;
  bool first = true;
  for (const YAML::Node& document : YAML::LoadAll(text)) {
    if (document.IsNull()) continue;
    if (first) {
      loaded.root = document;
      first = false;
    } else {
      loaded.second_document = document.Mark();
      break;
    }
  }
  return loaded;
}

}  // namespace fastgpu
