// Reading a YAML text that holds one document (a job file, a settings file, a scenario).
#pragma once

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

namespace fastgpu {

// The text's document, and where a second one with content begins, if one does.
// YAML::Load reads the first document of a stream and drops the rest without a word: a
// file of two jobs separated by `---` ran only the first. Documents with nothing in them
// (a `---` at the end) are not counted.
struct YamlText {
  YAML::Node root;  // null for an empty text
  std::optional<YAML::Mark> second_document;
};

// Throws YAML::Exception for malformed YAML, as YAML::Load does.
YamlText load_yaml_text(const std::string& text);

}  // namespace fastgpu
