#!/usr/bin/env bash
# install-deps.sh: installs everything Attest needs to build and test on
# Debian 12 (bookworm): the C toolchain, the libraries, and the Python 3
# modules the integration tests use. Needs root (CI runs it as root; on a
# workstation: sudo scripts/install-deps.sh). Without root it installs
# nothing, says so and exits 0, so that a machine already set up can still
# build.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  clang libclang-rt-14-dev   # the fuzz leg (scripts/fuzz.sh): libFuzzer and the sanitizer runtimes
  libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev libsodium-dev libjansson-dev libmicrohttpd-dev
  libcurl4-openssl-dev   # receipts: the producer library fetches tiles from the log server
  libssl-dev   # libcrypto: the log's SHA-256 (tlog/sha256.c) with the CPU's SHA instructions
  libsystemd-dev   # sd_notify: the daemons tell systemd when they are ready (Type=notify)
  python3 python3-zmq python3-msgpack python3-nacl python3-lmdb
  lmdb-utils
  iproute2 nftables   # the chaos test: ip netns, tc; nft drop rules for loss and partitions
  prometheus   # for promtool: test_metrics checks the metrics exposition with it
  python3-yaml yamllint
  golang-go golang-golang-x-mod-dev   # tests only: Go interop (test_note_go: Go's sumdb/note checks our signed notes)
)

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: not root, skipping apt-get; if the build fails, run as root:" >&2
  echo "  sudo $0   (packages: ${PACKAGES[*]})" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "install-deps: apt-get not found; install by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${PACKAGES[@]}"
