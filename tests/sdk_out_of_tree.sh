#!/bin/sh
# Install this build into a temporary prefix, build sdk/examples against
# that prefix alone (with CMake's find_package and with pkg-config), and
# check that the installed portico loads both example plugins and its own
# bundled ones.
set -eu
build_dir=$1
source_dir=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/portico-test-sdk-XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null

cmake -S "$source_dir/sdk/examples" -B "$work/cmake-build" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" >/dev/null
cmake --build "$work/cmake-build" >/dev/null

mkdir "$work/pc-build"
PKG_CONFIG_PATH=$(dirname "$(find "$work/prefix" -name portico.pc)") \
  make -s -C "$source_dir/sdk/examples" OUT="$work/pc-build" \
  CFLAGS="-O2 -Wall -Wextra -Werror"

config="$work/config.lua"
echo 'return { plugins = { hello_provider = { greeting = "hi" } } }' >"$config"
for dir in "$work/cmake-build" "$work/pc-build"; do
  out=$("$work/prefix/bin/portico" --config "$config" --plugins "$dir" plugins --json)
  for want in '"name":	"hello_provider"' '"id":	"hello"' \
              '"name":	"word_count"' '"name":	"claude"' \
              '"name":	"openai"' '"name":	"ollama"' '"name":	"tools"' \
              '"refused":	[]'; do
    if ! printf '%s' "$out" | grep -qF "$want"; then
      echo "FAIL: $dir: expected $want in:"; printf '%s\n' "$out"; exit 1
    fi
  done
done
echo "1 passed, 0 failed"
