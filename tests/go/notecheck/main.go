// notecheck: signed notes with Go's golang.org/x/mod/sumdb/note, an
// implementation nobody here wrote, for tests/integration/test_note_go.py.
//
//	notecheck verify VKEYFILE NOTEFILE   exit 0 iff NOTEFILE carries a valid
//	                                     signature by the key; prints the body
//	notecheck sign SKEYFILE BODYFILE     prints the signed note
//	notecheck keygen NAME                prints the signer key, then the
//	                                     verifier key, one per line
//
// Key files hold one key text; trailing white space is ignored. Exit 1 on a
// failed check (the reason on stderr), 2 on bad usage.
//
// Built in GOPATH mode without network:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o notecheck main.go
package main

import (
	"crypto/rand"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

func readKey(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	return strings.TrimRight(string(b), " \t\r\n")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "notecheck:", err)
	os.Exit(1)
}

func verify(vkeyFile, noteFile string) {
	v, err := note.NewVerifier(readKey(vkeyFile))
	if err != nil {
		fail(err)
	}
	msg, err := os.ReadFile(noteFile)
	if err != nil {
		fail(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		fail(err)
	}
	os.Stdout.WriteString(n.Text)
}

func sign(skeyFile, bodyFile string) {
	s, err := note.NewSigner(readKey(skeyFile))
	if err != nil {
		fail(err)
	}
	body, err := os.ReadFile(bodyFile)
	if err != nil {
		fail(err)
	}
	msg, err := note.Sign(&note.Note{Text: string(body)}, s)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(msg)
}

func keygen(name string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		fail(err)
	}
	fmt.Println(skey)
	fmt.Println(vkey)
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 3 && args[0] == "verify":
		verify(args[1], args[2])
	case len(args) == 3 && args[0] == "sign":
		sign(args[1], args[2])
	case len(args) == 2 && args[0] == "keygen":
		keygen(args[1])
	default:
		fmt.Fprintln(os.Stderr, "usage: notecheck verify VKEYFILE NOTEFILE | sign SKEYFILE BODYFILE | keygen NAME")
		os.Exit(2)
	}
}
