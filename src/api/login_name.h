// A uid as messages name it.
#pragma once

#include <sys/types.h>

#include <string>

namespace fastgpu::api {

// "root (uid 0)", or "uid 1234" for a uid without a name.
std::string login_name(uid_t uid);

// "root", or "uid 1234" for a uid without a name.
std::string user_name(uid_t uid);

}  // namespace fastgpu::api
