#!/bin/sh
# Build a release binary and run every benchmark under bench/:
#   sh scripts/bench.sh [STARTUP_RUNS] [DELTAS] [SEARCH_MESSAGES]
#                       [POLICY_DECISIONS] [AGENT_TURNS] [AGENT_SESSIONS]
#                       [SERVE_STARTS] [SERVE_TURNS] [SERVE_SESSIONS]
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPORTICO_TESTS=ON \
  -DPORTICO_BENCH=ON >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
build-bench/bin/bench_startup build-bench/bin/portico "${1:-30}"
echo
build-bench/bin/bench_providers "${2:-100000}"
echo
build-bench/bin/bench_store build-bench/bin/portico "${3:-100000}"
echo
build-bench/bin/bench_policy "${4:-20000}"
echo
build-bench/bin/bench_agent "${5:-200}" "${6:-1000}"
echo
build-bench/bin/bench_serve build-bench/bin/portico "${7:-20}" "${8:-200}" \
  "${9:-1000}"
