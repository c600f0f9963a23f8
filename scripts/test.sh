#!/bin/sh
# The README's second command, and what CI runs: install what is missing,
# build with warnings as errors, run every test, then build again with
# AddressSanitizer + UndefinedBehaviorSanitizer and run every test again.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
jobs=$(nproc)

echo "== build (-Wall -Wextra -Werror)"
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTICO_WERROR=ON >/dev/null
cmake --build build-ci -j"$jobs"
echo "== tests"
(cd build-ci && ctest --output-on-failure -j"$jobs")

echo "== build with AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPORTICO_WERROR=ON \
  -DPORTICO_SANITIZE=ON -DPORTICO_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  sh -c 'cd build-asan && ctest --output-on-failure -j"$0"' "$jobs"
