"""logfixture.py: build Attest attestations and LMDB logs from Python, for tests.

Follows proto/attestation.h (format, signing bytes, id), store/logdb.h (LMDB
layout) and tlog/entry.h (entry value, hash chain) exactly. Needs Debian's
/usr/bin/python3 with python3-lmdb, python3-msgpack and python3-nacl.

    pk, sk = make_keypair()                      # sk: 64 bytes, libsodium layout
    att, aid = make_attestation(sk, subject="host-1", data=b"ok")
    entries = write_log("/tmp/log", [{"att": att}, {"att": bad}])
    tamper_entry("/tmp/log", 1, verdict=0)       # rewrite one stored value

Layout: store/logdb.h, including meta "ids_upto" (ids of entries at or past it
are not in "ids"; see write_log's index_ids).

Reason codes are those of proto/at_err.h (REASONS maps names to codes).
"""
import os
import struct
import time

import lmdb
import msgpack
import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.signing

DOMAIN = b"attest/v1\0"
VALID, INVALID = 0, 1
SKEW = 300
REASONS = {"ok": 0, "msgpack": 1, "trailing_bytes": 2, "shape": 3, "type": 4, "version": 5, "oversize": 6,
           "range": 7, "signature": 8, "not_yet_valid": 9, "expired": 10}
REASON_NAMES = {v: k for k, v in REASONS.items()}
ZERO32 = bytes(32)


def blake2b32(data):
    return nacl.hash.blake2b(data, digest_size=32, encoder=nacl.encoding.RawEncoder)


def make_keypair(seed=None):
    """Returns (public 32 bytes, secret 64 bytes = seed + public)."""
    key = nacl.signing.SigningKey(seed) if seed is not None else nacl.signing.SigningKey.generate()
    pk = bytes(key.verify_key)
    return pk, bytes(key) + pk


def write_keyfile(path, pk, sk):
    """Writes a key file in the format of `attest keygen`."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('{"public": "%s", "secret": "%s"}\n' % (pk.hex(), sk.hex()))


def signing_bytes(schema, attester, subject, data, issued_at, expires_at, nonce, version=1):
    schema_b, subject_b = schema.encode(), subject.encode()
    return b"".join([
        DOMAIN, bytes([version]),
        struct.pack(">H", len(schema_b)), schema_b, attester,
        struct.pack(">H", len(subject_b)), subject_b,
        struct.pack(">I", len(data)), data,
        struct.pack(">Q", issued_at),
        bytes([0 if expires_at is None else 1]), struct.pack(">Q", expires_at or 0),
        nonce])


def make_attestation(sk, schema="attest/demo/v1", subject="host-1", data=b"", issued_at=None, expires_at=None,
                     nonce=None, bad_signature=False):
    """Signs and encodes an attestation; returns (encoded bytes, id 32 bytes).
    bad_signature=True flips a bit of the signature (the id is unchanged)."""
    attester = sk[32:]
    issued_at = int(time.time()) - 10 if issued_at is None else issued_at
    nonce = os.urandom(16) if nonce is None else nonce
    sb = signing_bytes(schema, attester, subject, data, issued_at, expires_at, nonce)
    sig = nacl.signing.SigningKey(sk[:32]).sign(sb).signature
    if bad_signature:
        sig = bytes([sig[0] ^ 1]) + sig[1:]
    enc = msgpack.packb([1, schema, attester, subject, data, issued_at, expires_at, nonce, sig], use_bin_type=True)
    return enc, blake2b32(sb)


def decode_attestation(enc):
    """Returns the nine fields as a dict, or None if enc is not an attestation."""
    try:
        f = msgpack.unpackb(enc, raw=False)
    except Exception:
        return None
    if not isinstance(f, list) or len(f) != 9 or f[0] != 1:
        return None
    keys = ["version", "schema", "attester", "subject", "data", "issued_at", "expires_at", "nonce", "signature"]
    return dict(zip(keys, f))


def judge(enc, now, skew=SKEW):
    """As attestation_judge (for well-formed input): returns (reason, id)."""
    a = decode_attestation(enc)
    if a is None:
        return REASONS["msgpack"], ZERO32
    sb = signing_bytes(a["schema"], a["attester"], a["subject"], a["data"], a["issued_at"], a["expires_at"],
                       a["nonce"])
    aid = blake2b32(sb)
    try:
        nacl.signing.VerifyKey(a["attester"]).verify(sb, a["signature"])
    except nacl.exceptions.BadSignatureError:
        return REASONS["signature"], aid
    if a["issued_at"] > now + skew:
        return REASONS["not_yet_valid"], aid
    if a["expires_at"] is not None and a["expires_at"] <= now:
        return REASONS["expired"], aid
    return REASONS["ok"], aid


def be64(v):
    return struct.pack(">Q", v)


def pack_entry(e):
    """The stored value of an entry dict (see logdb.h)."""
    return msgpack.packb([1, e["index"], e["seq"], e["prev_hash"], e["id"], e["verdict"], e["reason"],
                          e["producer"], e["cseq"], e["worker"], e["t_received"], e["t_dispatched"],
                          e["t_verified"], e["t_committed"], e["att"]], use_bin_type=True)


def unpack_entry(value):
    f = msgpack.unpackb(value, raw=False)
    keys = ["format", "index", "seq", "prev_hash", "id", "verdict", "reason", "producer", "cseq", "worker",
            "t_received", "t_dispatched", "t_verified", "t_committed", "att", "producer_key", "worker_key",
            "epoch"]
    return dict(zip(keys, f))


def open_env(path, map_size=64 << 20):
    os.makedirs(path, exist_ok=True)
    env = lmdb.open(path, max_dbs=4, map_size=map_size, subdir=True)
    return env, env.open_db(b"entries"), env.open_db(b"ids"), env.open_db(b"meta")


def _complete(spec, index, prev_hash, now_us):
    """Fills the defaults of one entry; verdict/reason from a fresh judgement."""
    e = {"index": index, "seq": index, "producer": "fixture", "cseq": index + 1, "worker": "w1",
         "t_received": now_us - 3000, "t_dispatched": now_us - 2000, "t_verified": now_us - 1000,
         "t_committed": now_us}
    e.update(spec)
    reason, aid = judge(e["att"], e["t_verified"] // 1000000)
    e.setdefault("reason", reason)
    e.setdefault("verdict", VALID if e["reason"] == 0 else INVALID)
    e.setdefault("id", aid)
    e["index"], e["prev_hash"] = index, prev_hash
    return e


def _meta_u64(txn, dbm, key):
    raw = txn.get(key, db=dbm)
    return struct.unpack(">Q", raw)[0] if raw and len(raw) == 8 else 0


def write_log(path, entries, index_ids=True, map_size=64 << 20):
    """Appends entries (dicts with at least "att"; any other field of the entry
    overrides its default) to the log at path, creating it if needed. Returns
    the completed entry dicts, each with "value" (stored bytes) and "hash".

    index_ids=True writes the id of every entry not yet indexed into "ids" and
    sets meta "ids_upto" = next_index (the state after the sink's bulk id
    flush); False leaves the new ids out of "ids" (found by readers from the
    entries in [ids_upto, next_index), as before the sink's flush)."""
    env, dbe, dbi, dbm = open_env(path, map_size)
    out = []
    with env.begin(write=True) as txn:
        start = index = _meta_u64(txn, dbm, b"next_index")
        prev = txn.get(b"head", db=dbm) or ZERO32
        now_us = int(time.time() * 1e6)
        for spec in entries:
            e = _complete(spec, index, bytes(prev), now_us)
            e["value"] = pack_entry(e)
            e["hash"] = blake2b32(e["value"])
            txn.put(be64(index), e["value"], db=dbe)
            prev, index = e["hash"], index + 1
            out.append(e)
        if index_ids:
            for i in range(min(_meta_u64(txn, dbm, b"ids_upto"), start), index):
                txn.put(unpack_entry(txn.get(be64(i), db=dbe))["id"], be64(i), db=dbi)
            txn.put(b"ids_upto", be64(index), db=dbm)
        txn.put(b"format", b"attest-log-v1", db=dbm)
        txn.put(b"next_index", be64(index), db=dbm)
        txn.put(b"next_seq", be64(index), db=dbm)
        txn.put(b"head", bytes(prev), db=dbm)
    env.close()
    return out


def tamper_entry(path, at, **fields):
    """Rewrites the stored value of one entry with some fields changed, without
    fixing the chain, ids or head (what an attacker editing the file would do)."""
    env, dbe, _, _ = open_env(path)
    with env.begin(write=True) as txn:
        e = unpack_entry(txn.get(be64(at), db=dbe))
        e.update(fields)
        txn.put(be64(at), pack_entry(e), db=dbe)
    env.close()


def delete_entry(path, at):
    """Deletes one entry, leaving meta, ids and the other entries as they are."""
    env, dbe, _, _ = open_env(path)
    with env.begin(write=True) as txn:
        txn.delete(be64(at), db=dbe)
    env.close()


def put_raw_entry(path, at, value):
    """Replaces the stored bytes of one entry (e.g. with bytes that do not decode)."""
    env, dbe, _, _ = open_env(path)
    with env.begin(write=True) as txn:
        txn.put(be64(at), value, db=dbe)
    env.close()


def tamper_meta(path, key, value):
    env, _, _, dbm = open_env(path)
    with env.begin(write=True) as txn:
        txn.put(key, value, db=dbm)
    env.close()


def put_id(path, aid, index):
    env, _, dbi, _ = open_env(path)
    with env.begin(write=True) as txn:
        txn.put(aid, be64(index), db=dbi)
    env.close()


def delete_id(path, aid):
    env, _, dbi, _ = open_env(path)
    with env.begin(write=True) as txn:
        txn.delete(aid, db=dbi)
    env.close()
