#!/usr/bin/env bash
# Formats FastGPU's C++ sources with the repo's .clang-format.
#   scripts/format.sh          rewrite files in place
#   scripts/format.sh --check  fail (and list the files) if any file is not formatted
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t files < <(git ls-files '*.cc' '*.h' '*.cpp' '*.hpp')
[ ${#files[@]} -eq 0 ] && exit 0

if [ "${1:-}" = "--check" ]; then
  unformatted=()
  for file in "${files[@]}"; do
    clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
  done
  if [ ${#unformatted[@]} -ne 0 ]; then
    echo "format: these files are not clang-formatted; run scripts/format.sh:" >&2
    printf '  %s\n' "${unformatted[@]}" >&2
    exit 1
  fi
  echo "format: ${#files[@]} files clean"
else
  clang-format -i "${files[@]}"
fi
