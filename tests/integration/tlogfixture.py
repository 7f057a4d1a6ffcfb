"""tlogfixture.py: an independent Python implementation of the transparency
log's formats (protocol.md section 14), shared by the integration tests:
RFC 9162 tree hashes and proof verification, C2SP signed notes (Ed25519)
and checkpoint bodies, C2SP tile paths. Written from the RFCs and C2SP
specs, not from tlog/*.c, so the tests check the C code against them.
"""
import base64
import hashlib

import nacl.signing

# ------------------------------------------------------------------ RFC 9162


def leaf_hash(b):
    return hashlib.sha256(b"\0" + b).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\1" + left + right).digest()


def mth(hs):
    """MTH over leaf hashes (RFC 9162 2.1.1)."""
    if not hs:
        return hashlib.sha256(b"").digest()
    if len(hs) == 1:
        return hs[0]
    k = 1
    while 2 * k < len(hs):
        k *= 2
    return node_hash(mth(hs[:k]), mth(hs[k:]))


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(n1, n2, r1, r2, proof):
    """RFC 9162 2.1.4.2 (0 < n1 <= n2)."""
    if n1 == n2:
        return not proof and r1 == r2
    if n1 & (n1 - 1) == 0:
        proof = [r1] + list(proof)
    if not proof:
        return False
    fn, sn = n1 - 1, n2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == r1 and sr == r2

# ------------------------------------------------------------------ notes


def parse_vkey(text):
    name, kid, b64 = text.strip().split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 1 and len(raw) == 33, "not an Ed25519 verifier key"
    return name, bytes.fromhex(kid), raw[1:]


def key_id(name, pub):
    return hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]


def open_note(note, vkey_text):
    """The note's body if a signature line by the key verifies, else None."""
    name, kid, pub = parse_vkey(vkey_text)
    body, sep, sigs = note.partition("\n\n")
    if not sep:
        return None
    body += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 %s " % name):
            continue
        raw = base64.b64decode(line.split(" ")[2])
        if raw[:4] != kid or key_id(name, pub) != kid:
            continue
        try:
            nacl.signing.VerifyKey(pub).verify(body.encode(), raw[4:])
            return body
        except Exception:
            return None
    return None


def sign_note(body, skey_text):
    """Signs a note body with a signer key text (PRIVATE+KEY+name+id+b64)."""
    parts = skey_text.strip().split("+", 4)
    name, kid, seed = parts[2], bytes.fromhex(parts[3]), base64.b64decode(parts[4])[1:]
    sig = nacl.signing.SigningKey(seed).sign(body.encode()).signature
    return body + "\n\u2014 %s %s\n" % (name, base64.b64encode(kid + sig).decode())


def parse_checkpoint(body):
    lines = body.split("\n")
    return {"origin": lines[0], "size": int(lines[1]), "root": base64.b64decode(lines[2])}

def tile_path(level, n, width):
    """C2SP tlog-tiles path ("entries" for an entry bundle)."""
    s = "%03d" % (n % 1000)
    n //= 1000
    while n > 0:
        s = "x%03d/%s" % (n % 1000, s)
        n //= 1000
    return "tile/%s/%s%s" % (level, s, "" if width == 256 else ".p/%d" % width)
