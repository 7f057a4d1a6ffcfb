#!/bin/sh
# run.sh: ctest go_merkle_vectors. Builds main.go against Go's
# golang.org/x/mod/sumdb/tlog (GOPATH mode, no network), runs it and
# `test_merkle --vectors`, and fails unless the two print the same roots
# and proofs for every tree of 1..300 leaves. Exits 77 (skipped) when go
# or golang-golang-x-mod-dev is not installed.
#   run.sh TEST_MERKLE_BINARY WORK_DIR
set -eu
bin=$1
work=$2
gopath=${ATTEST_GOPATH:-/usr/share/gocode}
if ! command -v go >/dev/null 2>&1; then
  echo "go_merkle_vectors: skipped: go is not installed (apt-get install golang-go)"
  exit 77
fi
if [ ! -d "$gopath/src/golang.org/x/mod/sumdb/tlog" ]; then
  echo "go_merkle_vectors: skipped: no golang.org/x/mod/sumdb/tlog under $gopath (golang-golang-x-mod-dev)"
  exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
GO111MODULE=off GOPATH=$gopath GOCACHE=$work/gocache GOFLAGS= \
  go build -o "$work/merklecheck" "$here/main.go"
"$work/merklecheck" >"$work/go.txt"
"$bin" --vectors >"$work/c.txt"
if ! cmp -s "$work/go.txt" "$work/c.txt"; then
  echo "go_merkle_vectors: Go's tlog and tlog/merkle.c disagree; first differences:"
  diff "$work/go.txt" "$work/c.txt" | head -n 10
  exit 1
fi
echo "go_merkle_vectors: $(wc -l <"$work/c.txt") roots and proofs agree with Go's tlog"
