#!/usr/bin/env bash
# quickstart.sh: installs what is missing (via scripts/install-deps.sh), builds
# Attest into build/, then runs `build/bin/attest demo` with any arguments
# given here (e.g. ./quickstart.sh --n 2000 --data-dir /tmp/attest-demo).
set -euo pipefail
cd "$(dirname "$0")"

missing=()
for tool in cmake cc pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if command -v pkg-config >/dev/null 2>&1; then
  for lib in libzmq libczmq msgpack lmdb libsodium jansson libmicrohttpd; do
    pkg-config --exists "$lib" || missing+=("$lib")
  done
fi
# The tests' Python modules (the second quick-start command needs them).
/usr/bin/python3 -c 'import zmq, msgpack, nacl, lmdb, yaml' >/dev/null 2>&1 || missing+=("python3 test modules")

if [ "${#missing[@]}" -gt 0 ]; then
  echo "quickstart: missing: ${missing[*]}; running scripts/install-deps.sh" >&2
  if [ "$(id -u)" -eq 0 ]; then
    scripts/install-deps.sh
  elif command -v sudo >/dev/null 2>&1; then
    sudo scripts/install-deps.sh
  else
    echo "quickstart: not root and no sudo: install as root: scripts/install-deps.sh" >&2
    exit 1
  fi
fi

cmake -S . -B build
cmake --build build -j2
exec build/bin/attest demo "$@"
