#!/bin/sh
# Installs the Debian 12 packages Portico needs to build and test, and only
# those that are missing, so a second run costs one dpkg query.
set -eu

PACKAGES="
build-essential
cmake
pkg-config
libuv1-dev
libltdl-dev
libsqlite3-dev
libcjson-dev
libcurl4-openssl-dev
liblua5.4-dev
libwebsockets-dev
libwebsockets-evlib-uv
libedit-dev
libssl-dev
"

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

echo "portico: installing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
  else
    echo "portico: need root (or sudo) to install:$missing" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
