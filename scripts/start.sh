#!/bin/sh
# The README's first command: install what is missing, build, and run the
# main job, the API server (`portico serve`, docs/http-api.md). It prints
# PORTICO_LISTEN_ADDR=127.0.0.1:PORT on stdout when ready and logs on
# stderr; Ctrl-C stops it. Arguments go to `portico serve`, e.g.
# `sh scripts/start.sh --listen 127.0.0.1:8080`.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTICO_TESTS=OFF -DPORTICO_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)"
exec build/bin/portico serve "$@"
