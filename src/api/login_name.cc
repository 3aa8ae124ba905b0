#include "api/login_name.h"

#include <fmt/format.h>
#include <pwd.h>

#include <optional>

namespace fastgpu::api {

namespace {

std::optional<std::string> name_of(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
    return std::string(found->pw_name);
  }
  return std::nullopt;
}

}  // namespace

std::string login_name(uid_t uid) {
  if (std::optional<std::string> name = name_of(uid)) return fmt::format("{} (uid {})", *name, uid);
  return fmt::format("uid {}", uid);
}

std::string user_name(uid_t uid) { return name_of(uid).value_or(fmt::format("uid {}", uid)); }

}  // namespace fastgpu::api
