#!/usr/bin/env bash
# Installs everything FastGPU needs to build and test, from Debian 12 packages.
# Idempotent: packages already present are left alone. Run as root, or as a user with sudo.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  clang-format clang-tidy
  libcli11-dev nlohmann-json3-dev libyaml-cpp-dev libfmt-dev libspdlog-dev libsqlite3-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev zlib1g-dev
  libcpp-httplib-dev libssl-dev libbrotli-dev libmimalloc-dev ccache
  prometheus  # for promtool, which checks `fastgpu metrics` in the tests
  chromium    # the real browser the dashboard's test drives (tests/browser)
  sqlite3     # the shell, with which bench/long_history.sh and bench/purge.sh write a long past
  tzdata      # time zones with summer time, which report --by day's days follow (its tests)
)
# The browser test runs on Node.js (with playwright-core from npm, below); Debian's when the
# machine has none.
command -v node >/dev/null || packages+=(nodejs npm)

# playwright-core, at the version tests/browser/package-lock.json pins: installed when it is
# missing or the lock file changed since.
install_browser_driver() {
  local folder
  folder="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
  if [ ! -f "$folder/node_modules/playwright-core/package.json" ] ||
    [ "$folder/package-lock.json" -nt "$folder/node_modules/.package-lock.json" ]; then
    echo "setup: installing playwright-core for the browser test (npm ci in tests/browser)"
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages already installed"
  install_browser_driver
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
  sudo_cmd=(sudo)
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The tests need only promtool; Debian's package also enables a Prometheus server. One that
# this run installed is stopped and disabled again, so setting up leaves no server running.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null &&
  systemctl is-enabled --quiet prometheus 2>/dev/null; then
  "${sudo_cmd[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
  echo "setup: installed prometheus for promtool; its server is disabled (systemctl enable --now prometheus starts it)"
fi

install_browser_driver
