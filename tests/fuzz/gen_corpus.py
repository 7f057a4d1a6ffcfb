#!/usr/bin/python3
"""gen_corpus.py: writes the seed corpora of the fuzz targets.

    /usr/bin/python3 tests/fuzz/gen_corpus.py [OUTDIR]   (default: tests/fuzz/corpus)

Deterministic (fixed keys, nonces and times), so re-running it rewrites the
same files; the output is committed. Each seed is a valid input of its
target, built from the formats in proto/attestation.h, proto/wire.h,
tlog/entry.h, cli/jsonl.h and proto/config.h: attestations of several
shapes, one message of every wire type (batches with good and bad items),
JSON lines (signed, pre-signed, with data_b64, u64 times), command lines with
ZPL files, log entries. libFuzzer mutates from there; the seeds also run on
every ctest (fuzz_replay_<target>).
"""
import hashlib
import json
import os
import struct
import sys

import msgpack
import nacl.signing

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY = nacl.signing.SigningKey(bytes([7]) * 32)
PK = bytes(KEY.verify_key)
NOW = 1700000000


def signing_bytes(schema, subject, data, issued, expires, nonce, version=1):
    exp = expires if expires is not None else 0
    return (b"attest/v1\0" + bytes([version]) + struct.pack(">H", len(schema)) + schema + PK +
            struct.pack(">H", len(subject)) + subject + struct.pack(">I", len(data)) + data +
            struct.pack(">QB", issued, 1 if expires is not None else 0) + struct.pack(">Q", exp) + nonce)


def attestation(schema=b"s", subject=b"subj", data=b"", issued=NOW, expires=None, nonce=b"\1" * 16, bad_sig=False):
    sb = signing_bytes(schema, subject, data, issued, expires, nonce)
    sig = KEY.sign(sb).signature
    if bad_sig:
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    arr = [1, schema.decode("utf-8", "replace"), PK, subject.decode("utf-8", "replace"), data, issued, expires,
           nonce, sig]
    return msgpack.packb(arr, use_bin_type=True), hashlib.blake2b(sb, digest_size=32).digest()


ATTS = {
    "min": attestation(),
    "data": attestation(data=b"hello \0 world", expires=NOW + 3600),
    "expired": attestation(expires=NOW - 10, issued=NOW - 100),
    "future": attestation(issued=NOW + 10**6),
    "badsig": attestation(bad_sig=True),
    "u64": attestation(issued=2**63 + 5, expires=2**64 - 1),
    "max": attestation(schema=b"x" * 128, subject=b"y" * 256, data=b"z" * 1024, expires=NOW + 1),
}


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def wire(*fields):
    return msgpack.packb([1, *fields], use_bin_type=True)


def gen_wire():
    a, aid = ATTS["data"]
    task = [7, "prod", 3, NOW * 10**6, NOW * 10**6 + 5, a]
    msgs = {
        "hello": wire(1, "producer-1"), "hello_instance": wire(1, "producer-1", bytes(range(16))),
        "welcome": wire(2, 0, 256), "welcome_credit": wire(2, 64, 256),
        "submit": wire(3, [[1, a], [2, ATTS["min"][0]], [3, b"\x93\x01"], ["x", a]]),
        "credit": wire(4, 16),
        "ack": wire(5, [[1, 0, 0, 0, False], [2, 1, 1, 13, True]]), "ack_empty": wire(5, []),
        "refuse": wire(6, [[1, 4], [2, 300]]), "ping": wire(7), "pong": wire(8),
        "error": wire(9, 12, "protocol: say HELLO first"), "bye": wire(10), "revoke": wire(11, 8),
        "release": wire(12, 8), "ready": wire(20, "worker-1", 64),
        "tasks": wire(21, 3, [task, [8, "p", 4, 1, 2, ATTS["u64"][0]]]),
        "done": wire(22, [7, 8, "x"], 2, 1500), "heartbeat": wire(23), "leave": wire(24), "leave_ok": wire(25),
        "blocked": wire(26, 1500),
        "sink_hello": wire(30, "sink-a", 10, 9, 3, 16384), "sink_welcome": wire(31, 3, 10),
        "committed": wire(32, 3, 12, [[10, 9, 0, 0, False], [11, 3, 1, 13, True]]),
        "verdicts": wire(40, 3, "worker-1", [task[:5] + [NOW * 10**6 + 9, 0, 0, aid, a],
                                               task[:5] + [1, 1, 13, b"short", a]]),
        "gap": wire(35, 3, [[10, 2], [15, 64], [200, 1]]), "gap_overlap": wire(35, 3, [[10, 5], [12, 1]]),
        "unknown_type": wire(99), "bad_version": msgpack.packb([2, 1, "x"]),
    }
    for name, data in msgs.items():
        write("wire", name, data)


def gen_attestation():
    for name, (data, _) in ATTS.items():
        write("attestation", name, data)
    write("attestation", "trailing", ATTS["min"][0] + b"\xc0")
    write("attestation", "huge_array", b"\xdd\xff\xff\xff\xff")
    # array16 and uint8 headers where fixarray/fixint would do: decodes (and must be find-indexed)
    write("attestation", "wide-headers", b"\xdc\x00\x09\xcc\x01" + ATTS["min"][0][2:])


def jline(obj):
    return json.dumps(obj, separators=(",", ":"))


def gen_jsonl():
    data, _ = ATTS["data"]
    # first byte: odd = signed with the target's test key, even = no key
    lines = {
        "signed": "\x01" + jline({"schema": "s", "subject": "x", "data": "hi", "issued_at": NOW,
                                  "expires_at": NOW + 60, "nonce": "01" * 16}),
        "minimal": "\x01" + jline({"schema": "s", "subject": "x"}),
        "b64": "\x01" + jline({"schema": "s", "subject": "x", "data_b64": "AAECAw==", "expires_at": None}),
        "presigned": "\x00" + jline({"schema": "s", "subject": "subj", "issued_at": NOW, "nonce": "01" * 16,
                                     "attester": PK.hex(), "signature": "ab" * 64}),
        "u64": "\x01" + '{"schema":"s","subject":"x","issued_at":9223372036854775813,'
                        '"expires_at":18446744073709551615}',
        "nul_in_string": "\x01" + '{"schema":"a\\u0000b","subject":"x","data":"\\u0000"}',
        "unknown_field": "\x01" + jline({"schema": "s", "subject": "x", "extra": 1}),
        "not_object": "\x00[1,2,3]",
    }
    for name, text in lines.items():
        write("jsonl", name, text)


def gen_config():
    # before the first NUL: the command line, '\n' between arguments; after it: a ZPL file
    cases = {
        "flags": "--count\n7\n--name=abc\n--fast",
        "bool_word": "--fast\nfalse\n--limit=99",
        "alias": "--old-count=3",
        "help": "--help", "version": "--version",
        "bad_int": "--count=1001",
        "file": "--fast\0count = 12\nname = \"from file\"\nloud = false\n",
        "file_alias": "\0old-count = -3\n",
        "file_nested": "\0count = 1\n    child = 2\n",
        "file_not_zpl": "\0\x01\x02 = = =\n\t\tx",
    }
    for name, text in cases.items():
        write("config", name, text)


def entry(index, prev, att, aid, verdict=0, reason=0, producer="prod", worker="w1"):
    return msgpack.packb([1, index, index + 5, prev, aid, verdict, reason, producer, 3, worker, NOW * 10**6,
                          NOW * 10**6 + 1, NOW * 10**6 + 2, NOW * 10**6 + 3, att], use_bin_type=True)


def gen_entry():
    prev = b"\0" * 32
    for i, name in enumerate(["min", "data", "badsig", "u64", "max"]):
        att, aid = ATTS[name]
        e = entry(i, prev, att, aid, verdict=1 if name == "badsig" else 0, reason=13 if name == "badsig" else 0)
        write("entry", name, e)
        prev = hashlib.blake2b(e, digest_size=32).digest()
    write("entry", "empty_names", entry(9, prev, ATTS["min"][0], ATTS["min"][1], producer="", worker=""))
    write("entry", "big_u64", msgpack.packb([1, 2**64 - 1, 2**64 - 1, prev, ATTS["min"][1], 0, 0, "p",
                                             2**64 - 1, "w", 2**64 - 1, 0, 0, 2**63, ATTS["min"][0]],
                                            use_bin_type=True))


if __name__ == "__main__":
    gen_attestation()
    gen_wire()
    gen_jsonl()
    gen_config()
    gen_entry()
    print("gen_corpus: wrote", OUT)
