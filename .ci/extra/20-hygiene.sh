#!/usr/bin/env bash
# Hygiene: clang-format (.clang-format) on every C++ source, and clang-tidy
# (.clang-tidy) over the public headers, the examples and the tools.
# The headers are checked through tests/hygiene/all_headers.cpp, the way a
# user includes them. Tests are not tidied: they poke at signals in ways
# the checks rightly dislike (raw fork, exit in children, C arrays).
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in clang-format clang-tidy; do
  command -v "$tool" >/dev/null || { echo "hygiene: missing $tool (apt-get install clang-format clang-tidy)" >&2; exit 1; }
done

mapfile -t sources < <(git ls-files '*.hpp' '*.cpp' '*.h')
echo "hygiene: clang-format --dry-run -Werror on ${#sources[@]} files"
clang-format --dry-run -Werror "${sources[@]}"

mapfile -t tidy < <(git ls-files 'tests/hygiene/*.cpp' 'examples/*.cpp' 'tools/*.cpp')
echo "hygiene: clang-tidy on ${#tidy[@]} translation units"
printf '%s\n' "${tidy[@]}" |
  xargs -P "$(nproc)" -I{} clang-tidy --quiet {} -- -std=c++20 -Iinclude -pthread
echo "hygiene: clean"
