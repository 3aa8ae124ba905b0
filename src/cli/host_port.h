// HOST:PORT as the flags that open a TCP port take it (daemon --metrics-listen, dashboard
// --listen).
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

namespace fastgpu::cli {

struct HostPort {
  std::string host;
  int port = 0;
};

// nullopt unless `text` is HOST:PORT with a port from `lowest` to 65535 (the last colon
// splits, so an IPv6 host needs no brackets).
inline std::optional<HostPort> parse_host_port(std::string_view text, int lowest) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  HostPort address{std::string(text.substr(0, colon)), 0};
  const std::string_view port = text.substr(colon + 1);
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (port.empty() || error != std::errc() || end != port.data() + port.size()) return std::nullopt;
  if (address.port < lowest || address.port > 65535) return std::nullopt;
  return address;
}

}  // namespace fastgpu::cli
