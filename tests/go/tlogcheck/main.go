// tlogcheck: checks an Attest log's checkpoints, tiles and proofs with Go's
// golang.org/x/mod/sumdb/note and sumdb/tlog, code nobody in this project
// wrote (tests/integration/test_go_interop.py runs it; issue 9,
// "Interoperability").
//
// It reads the log as an outside verifier does: the signed checkpoint note
// (opened with the log's public key), the C2SP tiles and entry bundles
// under a base that is a directory or an http(s) URL (the layout of
// `attest log serve`: BASE/tile/<L>/<N>[.p/<W>], BASE/tile/entries/<N>...),
// and the proofs `attest log prove --json`, `attest log prove --format c2sp`
// and `attest log consistency --json` printed. Go's tlog.TileHashReader
// authenticates every tile it reads against the checkpoint's root.
//
//	tlogcheck -vkey log.pub -checkpoint cp.note -tiles DIR|URL
//	          [-old old.note] [-proofs proofs.json] [-consistency c.json]
//	          [-c2sp a.tlog-proof,b.tlog-proof] [-sample 64] [-full]
//
// Prints one line per check ("ok ..." or "FAIL ...") and exits 0 iff every
// check passed (1 otherwise, 2 on a usage error).
//
// Build it in GOPATH mode with Debian's golang-golang-x-mod-dev, no network:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o tlogcheck main.go
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8 // C2SP tlog-tiles: 2^8 hashes per tile

var failures int

func ok(format string, args ...interface{}) { fmt.Printf("ok   "+format+"\n", args...) }

func fail(format string, args ...interface{}) {
	failures++
	fmt.Printf("FAIL "+format+"\n", args...)
}

// checkpoint is a C2SP tlog-checkpoint body (origin, size, root; extension
// lines ignored).
type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies msg's signature by v and parses its body.
func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return checkpoint{}, errors.New("checkpoint body has fewer than three lines")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("bad tree size %q", lines[1])
	}
	h, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return checkpoint{}, fmt.Errorf("bad root %q", lines[2])
	}
	c := checkpoint{origin: lines[0], size: size}
	copy(c.root[:], h)
	return c, nil
}

// store reads C2SP paths under a directory or an http(s) URL.
type store struct{ base string }

var errMissing = errors.New("not found")

func (s store) get(path string) ([]byte, error) {
	if strings.HasPrefix(s.base, "http://") || strings.HasPrefix(s.base, "https://") {
		resp, err := http.Get(strings.TrimRight(s.base, "/") + "/" + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound {
			return nil, errMissing
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return io.ReadAll(resp.Body)
	}
	b, err := os.ReadFile(filepath.Join(s.base, filepath.FromSlash(path)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errMissing
	}
	return b, err
}

// ourPath maps Go's tile path "tile/8/L/N[.p/W]" to C2SP's "tile/L/N[.p/W]"
// (entry bundles: "tile/entries/N[.p/W]").
func ourPath(t tlog.Tile, entries bool) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", height))
	if entries {
		p = "entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// readTile reads tile t; a partial tile that is no longer stored is cut
// from the full one (the log only keeps the newest partial).
func (s store) readTile(t tlog.Tile, entries bool) ([]byte, error) {
	b, err := s.get(ourPath(t, entries))
	if err == errMissing && t.W < 1<<height {
		full := t
		full.W = 1 << height
		b, err = s.get(ourPath(full, entries))
	}
	return b, err
}

// tileReader is the tlog.TileReader over a store.
type tileReader struct{ s store }

func (r tileReader) Height() int { return height }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := r.s.readTile(t, false)
		if err != nil {
			return nil, fmt.Errorf("tile %s: %v", ourPath(t, false), err)
		}
		if len(b) < t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s: %d bytes, want %d", ourPath(t, false), len(b), t.W*tlog.HashSize)
		}
		out[i] = b[:t.W*tlog.HashSize]
	}
	return out, nil
}

func (r tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

// entry returns the bytes of entry i from its C2SP entry bundle (each entry
// a big-endian u16 length and the bytes) in the tree of size n.
func (s store) entry(i, n int64) ([]byte, error) {
	t := tlog.Tile{H: height, L: -1, N: i >> height, W: 1 << height}
	if rest := n - t.N<<height; rest < 1<<height {
		t.W = int(rest)
	}
	b, err := s.readTile(t, true)
	if err != nil {
		return nil, fmt.Errorf("entry bundle %s: %v", ourPath(t, true), err)
	}
	for k := int64(0); ; k++ {
		if len(b) < 2 {
			return nil, fmt.Errorf("entry bundle %s: ends before entry %d", ourPath(t, true), i)
		}
		l := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+l {
			return nil, fmt.Errorf("entry bundle %s: truncated", ourPath(t, true))
		}
		if t.N<<height+k == i {
			return b[2 : 2+l], nil
		}
		b = b[2+l:]
	}
}

type ourInclusion struct {
	Index      int64    `json:"index"`
	Size       int64    `json:"size"`
	Proof      []string `json:"proof"`
	Entry      string   `json:"entry"`
	Checkpoint *string  `json:"checkpoint"`
}

type ourConsistency struct {
	OldSize int64    `json:"old_size"`
	NewSize int64    `json:"new_size"`
	Proof   []string `json:"proof"`
}

func hashes(b64 []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(b64))
	for i, s := range b64 {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof hash %d is not base64 of 32 bytes", i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

type checker struct {
	v     note.Verifier
	cp    checkpoint
	s     store
	thr   tlog.HashReader
	roots map[int64]tlog.Hash // sizes with a known, signed root
}

// rootOf is the signed root of size n: the checkpoint's, or that of a note
// carried by the proof.
func (c *checker) rootOf(n int64, carried *string) (tlog.Hash, error) {
	if carried != nil {
		cp, err := openCheckpoint([]byte(*carried), c.v)
		if err != nil {
			return tlog.Hash{}, fmt.Errorf("its checkpoint: %v", err)
		}
		if cp.size != n {
			return tlog.Hash{}, fmt.Errorf("its checkpoint is of size %d, not %d", cp.size, n)
		}
		return cp.root, nil
	}
	if h, ok := c.roots[n]; ok {
		return h, nil
	}
	return tlog.Hash{}, fmt.Errorf("no signed root of size %d", n)
}

// goProofs: Go proves sampled records itself from the tiles and checks them
// against the leaf hash of the bundle's entry.
func (c *checker) goProofs(sample int64) {
	n := c.cp.size
	var idx []int64
	for k := int64(0); k < sample && k < n; k++ {
		idx = append(idx, k*(n-1)/maxi(sample-1, 1))
	}
	bad := 0
	for _, i := range idx {
		e, err := c.s.entry(i, n)
		if err == nil {
			var p tlog.RecordProof
			if p, err = tlog.ProveRecord(n, i, c.thr); err == nil {
				err = tlog.CheckRecord(p, n, c.cp.root, i, tlog.RecordHash(e))
			}
		}
		if err != nil {
			bad++
			fail("go inclusion of entry %d in size %d: %v", i, n, err)
		}
	}
	if bad == 0 {
		ok("go inclusion: %d sampled entries proved by tlog.ProveRecord from the tiles, checked by tlog.CheckRecord",
			len(idx))
	}
}

func maxi(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// full checks every tile itself: it reads them all (not through the
// TileHashReader: the Debian x/mod version authenticates only some of the
// tiles a request reads, see tileHashReader.ReadHashes' loop from
// len(stx)), recomputes the tree hash from them (tlog.TreeHash), the hash
// of every full tile against its parent's, and every entry of the bundles
// against its leaf hash in the level-0 tiles.
func (c *checker) full() {
	n := c.cp.size
	tiles := treeTiles(n)
	data := map[[2]int64][]byte{}
	widths := map[[2]int64]tlog.Tile{}
	raw, err := tileReader{c.s}.ReadTiles(tiles)
	if err != nil {
		fail("full: %v", err)
		return
	}
	for i, t := range tiles {
		data[[2]int64{int64(t.L), t.N}] = raw[i]
		widths[[2]int64{int64(t.L), t.N}] = t
	}
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			want := tlog.TileForIndex(height, x)
			key := [2]int64{int64(want.L), want.N}
			h, err := tlog.HashFromTile(widths[key], data[key], x)
			if err != nil {
				return nil, err
			}
			out[i] = h
		}
		return out, nil
	})
	if h, err := tlog.TreeHash(n, hr); err != nil || h != c.cp.root {
		fail("full: the tree hash recomputed from all the tiles is not the checkpoint's root (%v)", err)
		return
	}
	for i, t := range tiles {
		if !c.fullTile(t, raw[i], hr, n) {
			return
		}
	}
	ok("full: all %d tiles tie to the checkpoint's root, all %d entries match their leaf hashes", len(tiles), n)
}

// treeTiles lists the tiles of the tree of size n: the full ones and the
// rightmost partial one of each level (tlog.NewTiles would also list every
// narrower partial tile ever published).
func treeTiles(n int64) []tlog.Tile {
	var tiles []tlog.Tile
	for level := 0; n>>(height*level) > 0; level++ {
		count := n >> (height * level)
		for k := int64(0); k < count>>height; k++ {
			tiles = append(tiles, tlog.Tile{H: height, L: level, N: k, W: 1 << height})
		}
		if w := int(count % (1 << height)); w > 0 {
			tiles = append(tiles, tlog.Tile{H: height, L: level, N: count >> height, W: w})
		}
	}
	return tiles
}

// fullTile: a full tile's hash is its parent's; a level-0 tile's hashes are
// its entries' record hashes.
func (c *checker) fullTile(t tlog.Tile, data []byte, hr tlog.HashReader, n int64) bool {
	if t.W == 1<<height {
		hs := make([]tlog.Hash, t.W)
		for k := range hs {
			copy(hs[k][:], data[k*tlog.HashSize:])
		}
		for len(hs) > 1 {
			for k := 0; k < len(hs)/2; k++ {
				hs[k] = tlog.NodeHash(hs[2*k], hs[2*k+1])
			}
			hs = hs[:len(hs)/2]
		}
		up, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(height*(t.L+1), t.N)})
		if err != nil || up[0] != hs[0] {
			fail("full: tile %s: its hash is not the one in its parent tile (%v)", ourPath(t, false), err)
			return false
		}
	}
	for k := 0; t.L == 0 && k < t.W; k++ {
		i := t.N<<height + int64(k)
		e, err := c.s.entry(i, n)
		if err != nil {
			fail("full: entry %d: %v", i, err)
			return false
		}
		if h := tlog.RecordHash(e); !bytes.Equal(h[:], data[k*tlog.HashSize:(k+1)*tlog.HashSize]) {
			fail("full: entry %d: its record hash is not the leaf hash in tile %s", i, ourPath(t, false))
			return false
		}
	}
	return true
}

// ourProofs checks `attest log prove --json` output with tlog.CheckRecord.
func (c *checker) ourProofs(path string) {
	b, err := os.ReadFile(path)
	var ps []ourInclusion
	if err == nil {
		err = json.Unmarshal(b, &ps)
	}
	if err != nil {
		fail("our inclusion proofs %s: %v", path, err)
		return
	}
	bad := 0
	for _, p := range ps {
		if err := c.ourProof(p); err != nil {
			bad++
			fail("our inclusion proof of entry %d in size %d: %v", p.Index, p.Size, err)
		}
	}
	if bad == 0 {
		ok("our inclusion: %d proofs of attest log prove --json checked by tlog.CheckRecord", len(ps))
	}
}

func (c *checker) ourProof(p ourInclusion) error {
	root, err := c.rootOf(p.Size, p.Checkpoint)
	if err != nil {
		return err
	}
	e, err := base64.StdEncoding.DecodeString(p.Entry)
	if err != nil {
		return errors.New("entry is not base64")
	}
	if p.Index < c.cp.size {
		served, err := c.s.entry(p.Index, c.cp.size)
		if err != nil {
			return err
		}
		if !bytes.Equal(served, e) {
			return errors.New("the proof's entry is not the entry bundle's")
		}
	}
	hs, err := hashes(p.Proof)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(tlog.RecordProof(hs), p.Size, root, p.Index, tlog.RecordHash(e))
}

// c2spProof checks one C2SP tlog-proof file.
func (c *checker) c2spProof(path string) {
	b, err := os.ReadFile(path)
	if err == nil {
		err = c.c2spCheck(b)
	}
	if err != nil {
		fail("c2sp proof %s: %v", path, err)
		return
	}
	ok("c2sp proof %s: index, hashes and checkpoint parse; tlog.CheckRecord accepts it", filepath.Base(path))
}

func (c *checker) c2spCheck(b []byte) error {
	text := string(b)
	head, rest, found := strings.Cut(text, "\n\n")
	if !found {
		return errors.New("no empty line before the checkpoint")
	}
	lines := strings.Split(head, "\n")
	if lines[0] != "c2sp.org/tlog-proof@v1" {
		return fmt.Errorf("first line %q", lines[0])
	}
	lines = lines[1:]
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		lines = lines[1:]
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "index ") {
		return errors.New("no index line")
	}
	index, err := strconv.ParseInt(strings.TrimPrefix(lines[0], "index "), 10, 64)
	if err != nil || index < 0 || strconv.FormatInt(index, 10) != strings.TrimPrefix(lines[0], "index ") {
		return fmt.Errorf("bad index line %q", lines[0])
	}
	hs, err := hashes(lines[1:])
	if err != nil {
		return err
	}
	cp, err := openCheckpoint([]byte(rest), c.v)
	if err != nil {
		return fmt.Errorf("its checkpoint: %v", err)
	}
	e, err := c.s.entry(index, c.cp.size)
	if err != nil {
		return err
	}
	return tlog.CheckRecord(tlog.RecordProof(hs), cp.size, cp.root, index, tlog.RecordHash(e))
}

// consistency: our proof (attest log consistency --json) and Go's own
// (tlog.ProveTree from the tiles), both checked by tlog.CheckTree against
// the old signed checkpoint.
func (c *checker) consistency(oldPath, ourPath string) {
	b, err := os.ReadFile(oldPath)
	var old checkpoint
	if err == nil {
		old, err = openCheckpoint(b, c.v)
	}
	if err != nil {
		fail("old checkpoint %s: %v", oldPath, err)
		return
	}
	ok("old checkpoint: signature by %s verifies (size %d)", c.v.Name(), old.size)
	if old.origin != c.cp.origin {
		fail("old checkpoint is of origin %q, the new one of %q", old.origin, c.cp.origin)
	}
	c.roots[old.size] = old.root
	p, err := tlog.ProveTree(c.cp.size, old.size, c.thr)
	if err == nil {
		err = tlog.CheckTree(p, c.cp.size, c.cp.root, old.size, old.root)
	}
	if err != nil {
		fail("go consistency %d -> %d: %v", old.size, c.cp.size, err)
	} else {
		ok("go consistency %d -> %d: tlog.ProveTree from the tiles, checked by tlog.CheckTree", old.size, c.cp.size)
	}
	if ourPath != "" {
		c.ourConsistency(ourPath)
	}
}

func (c *checker) ourConsistency(path string) {
	b, err := os.ReadFile(path)
	var p ourConsistency
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	var hs []tlog.Hash
	if err == nil {
		hs, err = hashes(p.Proof)
	}
	var oldRoot, newRoot tlog.Hash
	if err == nil {
		if oldRoot, err = c.rootOf(p.OldSize, nil); err == nil {
			newRoot, err = c.rootOf(p.NewSize, nil)
		}
	}
	if err == nil {
		err = tlog.CheckTree(tlog.TreeProof(hs), p.NewSize, newRoot, p.OldSize, oldRoot)
	}
	if err != nil {
		fail("our consistency proof %s: %v", path, err)
		return
	}
	ok("our consistency %d -> %d: attest log consistency --json checked by tlog.CheckTree", p.OldSize, p.NewSize)
}

func main() {
	vkeyPath := flag.String("vkey", "", "the log's verifier key file (name+keyid+base64)")
	cpPath := flag.String("checkpoint", "", "the newest signed checkpoint note")
	base := flag.String("tiles", "", "directory or http(s) URL holding tile/... (C2SP tlog-tiles)")
	oldPath := flag.String("old", "", "an older signed checkpoint: check consistency with it")
	proofs := flag.String("proofs", "", "JSON array of `attest log prove --json` outputs")
	cons := flag.String("consistency", "", "`attest log consistency --json` output (OLD = -old's size)")
	c2sp := flag.String("c2sp", "", "comma-separated C2SP tlog-proof files")
	sample := flag.Int64("sample", 64, "entries Go proves itself")
	full := flag.Bool("full", false, "authenticate every tile and check every entry against its leaf hash")
	flag.Parse()
	if *vkeyPath == "" || *cpPath == "" || *base == "" {
		fmt.Fprintln(os.Stderr, "usage: tlogcheck -vkey FILE -checkpoint FILE -tiles DIR|URL [-old FILE] "+
			"[-proofs FILE] [-consistency FILE] [-c2sp FILES] [-sample N]")
		os.Exit(2)
	}
	vkey, err := os.ReadFile(*vkeyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		fail("note.NewVerifier(%s): %v", *vkeyPath, err)
		os.Exit(1)
	}
	c := &checker{v: v, s: store{*base}, roots: map[int64]tlog.Hash{}}
	run(c, *cpPath, *oldPath, *proofs, *cons, *c2sp, *sample, *full)
	if failures > 0 {
		fmt.Printf("tlogcheck: %d check(s) FAILED\n", failures)
		os.Exit(1)
	}
	fmt.Println("tlogcheck: all checks passed")
}

func run(c *checker, cpPath, oldPath, proofs, cons, c2sp string, sample int64, full bool) {
	msg, err := os.ReadFile(cpPath)
	if err == nil {
		c.cp, err = openCheckpoint(msg, c.v)
	}
	if err != nil {
		fail("checkpoint %s: %v", cpPath, err)
		return
	}
	ok("checkpoint: note.Open verifies the signature by %s; origin %s, size %d", c.v.Name(), c.cp.origin, c.cp.size)
	c.roots[c.cp.size] = c.cp.root
	c.thr = tlog.TileHashReader(tlog.Tree{N: c.cp.size, Hash: c.cp.root}, tileReader{c.s})
	if h, err := tlog.TreeHash(c.cp.size, c.thr); err != nil || h != c.cp.root {
		fail("tiles: the tree hash from the tiles is not the checkpoint's root (%v)", err)
		return
	}
	ok("tiles: tlog.TreeHash through tlog.TileHashReader equals the checkpoint's root")
	c.goProofs(sample)
	if full {
		c.full()
	}
	if proofs != "" {
		c.ourProofs(proofs)
	}
	if oldPath != "" {
		c.consistency(oldPath, cons)
	}
	for _, p := range strings.Split(c2sp, ",") {
		if p != "" {
			c.c2spProof(p)
		}
	}
}
