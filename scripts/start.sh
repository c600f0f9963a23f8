#!/bin/sh
# The README's first command: install what is missing, build, and run the
# main job. Until the API server exists the main job is the plugin demo:
# load every bundled plugin and print what each provides.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTICO_TESTS=OFF -DPORTICO_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)"
exec build/bin/portico plugins "$@"
