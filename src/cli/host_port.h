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

// nullopt unless `text` is HOST:PORT with a port from `lowest` to 65535. An IPv6 host is
// written in brackets, as in a URL ("[::1]:9401"), which are not part of the host; without
// them the last colon splits ("::1:9401"). The brackets had reached the address lookup,
// which failed with a stale reason ("File exists").
inline std::optional<HostPort> parse_host_port(std::string_view text, int lowest) {
  std::size_t colon = text.rfind(':');
  std::string_view host = text.substr(0, colon == std::string_view::npos ? 0 : colon);
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    colon = close + 1;
    host = text.substr(1, close - 1);
  }
  if (colon == std::string_view::npos || host.empty()) return std::nullopt;
  HostPort address{std::string(host), 0};
  const std::string_view port = text.substr(colon + 1);
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), address.port);
  if (port.empty() || error != std::errc() || end != port.data() + port.size()) return std::nullopt;
  if (address.port < lowest || address.port > 65535) return std::nullopt;
  return address;
}

}  // namespace fastgpu::cli
