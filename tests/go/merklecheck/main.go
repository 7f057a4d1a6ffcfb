// merklecheck: prints the roots and proofs of the trees of leaves
// "leaf-<i>", sizes 1..300, as Go's golang.org/x/mod/sumdb/tlog computes
// them, in the format of `test_merkle --vectors` (tests/unit/test_merkle.c):
//
//	root N N 1 <root>
//	incl I N <len> <SHA-256 of the proof's hashes concatenated>
//	cons M N <len> <SHA-256 of the proof's hashes concatenated>
//
// ctest go_merkle_vectors diffs the two outputs. Build in GOPATH mode
// (GO111MODULE=off GOPATH=/usr/share/gocode), no network needed.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

const maxN = 300

func digest(hs []tlog.Hash) string {
	d := sha256.New()
	for _, h := range hs {
		d.Write(h[:])
	}
	return hex.EncodeToString(d.Sum(nil))
}

func main() {
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i := int64(0); i < maxN; i++ {
		hs, err := tlog.StoredHashes(i, []byte(fmt.Sprintf("leaf-%d", i)), reader)
		if err != nil {
			panic(err)
		}
		stored = append(stored, hs...)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for n := int64(1); n <= maxN; n++ {
		root, err := tlog.TreeHash(n, reader)
		if err != nil {
			panic(err)
		}
		fmt.Fprintf(w, "root %d %d 1 %s\n", n, n, hex.EncodeToString(root[:]))
		for i := int64(0); i < n; i++ {
			p, err := tlog.ProveRecord(n, i, reader)
			if err != nil {
				panic(err)
			}
			fmt.Fprintf(w, "incl %d %d %d %s\n", i, n, len(p), digest(p))
		}
		for m := int64(1); m <= n; m++ {
			p, err := tlog.ProveTree(n, m, reader)
			if err != nil {
				panic(err)
			}
			fmt.Fprintf(w, "cons %d %d %d %s\n", m, n, len(p), digest(p))
		}
	}
}
