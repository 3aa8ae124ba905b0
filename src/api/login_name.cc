#include "api/login_name.h"

#include <fmt/format.h>
#include <pwd.h>

namespace fastgpu::api {

std::string login_name(uid_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  char buffer[4096];
  if (::getpwuid_r(uid, &entry, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
    return fmt::format("{} (uid {})", found->pw_name, uid);
  }
  return fmt::format("uid {}", uid);
}

}  // namespace fastgpu::api
