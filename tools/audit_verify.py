#!/usr/bin/env python3
"""Check the broker's audit log without the broker.

An agency keeps the log's verifier key (``broker audit log-key`` prints it). With it, this
script checks what the broker hands out, using nothing but Python and ``cryptography``:

  audit_verify.py --key VKEY export AUDIT.jsonl CHECKPOINT
      The export (``broker audit export --jsonl``) is the log the checkpoint signed: the hash
      chain recomputed from its lines, and the Merkle tree over its first SIZE entries has the
      checkpoint's root.
  audit_verify.py --key VKEY inclusion CHECKPOINT PROOF.json [--export AUDIT.jsonl]
      The entry the proof names is in the log the checkpoint signed (and, with --export, it is
      that line of the export).
  audit_verify.py --key VKEY consistency OLD NEW PROOF.json
      The log signed in NEW extends the log signed in OLD: nothing in OLD was changed.

Exit status: 0 when it holds, 1 (with the reason) when it does not, 2 on bad usage.

Formats (the broker's ARCHITECTURE.md, "Signed checkpoints"): entry i's hash is
"sha256:" + hex(SHA-256(hash[i-1] + "\\n" + line i)), hash[0] being "sha256:" and 64 zeros;
Merkle leaf i is SHA-256(0x00 || the 32 bytes of hash i), a node SHA-256(0x01 || left ||
right), the tree RFC 9162's; a checkpoint is a C2SP tlog-checkpoint in a C2SP signed note
with one Ed25519 signature.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from dataclasses import dataclass
from typing import BinaryIO, Iterator

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - the message is the point
    sys.stderr.write(
        "audit_verify: the Python package 'cryptography' is missing: "
        "pip install -r tests/requirements.txt (or pip install cryptography)\n"
    )
    sys.exit(2)

GENESIS = "sha256:" + "0" * 64
ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 100


class VerifyError(Exception):
    """The thing checked does not hold; the message says why, in plain words."""


class UsageError(Exception):
    """The command was given something it cannot use (a missing file, a malformed key)."""


# ---------------------------------------------------------------------------------------------
# Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint)


def b64decode(text: str, what: str, error=VerifyError) -> bytes:
    """Standard base64 with padding, and nothing else (no whitespace, no other alphabet)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what} is not standard base64") from None
    if base64.b64encode(raw).decode() != text:
        raise error(f"{what} is not standard base64")
    return raw


def check_key_name(name: str) -> None:
    if not name:
        raise UsageError("the verifier key's name is empty")
    for c in name:
        if c.isspace() or ord(c) < 0x20 or c == "+":
            raise UsageError(f"the verifier key's name holds {c!r}")


def key_id(name: str, public: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    name: str
    key_id: bytes
    public: bytes

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
            return True
        except InvalidSignature:
            return False


def parse_vkey(text: str) -> Verifier:
    """<name>+<key id, 8 lower-case hex>+<base64(0x01 || 32-byte Ed25519 key)>."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise UsageError("the verifier key is not <name>+<key id>+<key>")
    name, hex_id, key = parts
    check_key_name(name)
    if len(hex_id) != 8 or any(c not in "0123456789abcdef" for c in hex_id):
        raise UsageError("the verifier key's id is not 8 lower-case hex digits")
    raw = b64decode(key, "the verifier key", UsageError)
    if len(raw) < 1 or raw[0] != ED25519:
        raise UsageError("the verifier key is not an Ed25519 key (type 0x01)")
    public = raw[1:]
    if len(public) != 32:
        raise UsageError("the verifier key's Ed25519 key is not 32 bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise UsageError("the verifier key is not a usable Ed25519 key") from None
    if key_id(name, public).hex() != hex_id:
        raise UsageError("the verifier key's id does not match its name and key")
    return Verifier(name, bytes.fromhex(hex_id), public)


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a signed note whose signature by `verifier` verifies. Signatures by other
    keys are passed over; one by this key (name and id) that fails refuses the note."""
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise VerifyError("the checkpoint note holds a control character")
    if not note.endswith("\n"):
        raise VerifyError("the checkpoint note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise VerifyError("the checkpoint note has no blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    lines = signatures.split("\n")[:-1]
    if not lines:
        raise VerifyError("the checkpoint note has no signature line")
    if len(lines) > MAX_SIGNATURES:
        raise VerifyError("the checkpoint note has too many signature lines")
    verified = False
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX) or " " not in line[len(SIGNATURE_PREFIX) :]:
            raise VerifyError(
                'a signature line of the checkpoint is not "\u2014 <name> <signature>"'
            )
        name, blob = line[len(SIGNATURE_PREFIX) :].split(" ", 1)
        raw = b64decode(blob, "a signature of the checkpoint")
        if not name or len(raw) < 5:
            raise VerifyError("a signature line of the checkpoint is too short")
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        if len(raw) != 68 or not verifier.verify(text.encode(), raw[4:]):
            raise VerifyError(
                f"the checkpoint's signature by {verifier.name} does not verify: the checkpoint "
                "was changed after it was signed, or signed by another key"
            )
        verified = True
    if not verified:
        raise VerifyError(
            f"the checkpoint has no signature by {verifier.name} with key id "
            f"{verifier.key_id.hex()}: it was not signed by the key given"
        )
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def parse_checkpoint(text: str) -> Checkpoint:
    """Exactly three lines: origin, size (decimal, no leading zero), root (base64, 32 bytes)."""
    if not text.endswith("\n"):
        raise VerifyError("the checkpoint's body does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) > 3:
        raise VerifyError(
            "the checkpoint has lines after its root (extension lines), which the broker "
            "never writes"
        )
    if len(lines) < 3:
        raise VerifyError("the checkpoint needs three lines: its origin, its size and its root")
    origin, size, root = lines
    if not origin:
        raise VerifyError("the checkpoint's origin line is empty")
    if not size or any(c not in "0123456789" for c in size):
        raise VerifyError("the checkpoint's size is not a decimal number")
    if len(size) > 1 and size[0] == "0":
        raise VerifyError("the checkpoint's size has a leading zero")
    if int(size) >= 1 << 64:
        raise VerifyError("the checkpoint's size is too large for 64 bits")
    raw = b64decode(root, "the checkpoint's root")
    if len(raw) != 32:
        raise VerifyError("the checkpoint's root is not 32 bytes")
    return Checkpoint(origin, int(size), raw)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if checkpoint.origin != verifier.name:
        raise VerifyError(
            f'the checkpoint is of the log "{checkpoint.origin}", not of "{verifier.name}"'
        )
    return checkpoint


# ---------------------------------------------------------------------------------------------
# The chain and the Merkle tree (RFC 9162)


def chain_hash(prev: str, line: bytes) -> str:
    return "sha256:" + hashlib.sha256(prev.encode() + b"\n" + line).hexdigest()


def leaf_hash(entry_hash: str) -> bytes:
    """SHA-256(0x00 || the 32 raw bytes of the entry's hash)."""
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash[len("sha256:") :])).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


class Tree:
    """The root of RFC 9162's tree over leaves appended one at a time, in memory that grows
    with the log's logarithm: the perfect subtrees of the leaves so far, largest first."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []

    def append(self, leaf: bytes) -> None:
        size, h = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            _, left = self.stack.pop()
            size, h = size * 2, node_hash(left, h)
        self.stack.append((size, h))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        h = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            h = node_hash(left, h)
        return h


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while True:
                    fn, sn = fn >> 1, sn >> 1
                    if fn & 1 or fn == 0:
                        break
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 section 2.1.4.2, with its two edge cases: a tree of the same size is consistent
    only with the same root (and an empty proof), and the empty tree with any (empty proof)."""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = fh = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            fh = node_hash(c, fh)
            if not fn & 1:
                while True:
                    fn, sn = fn >> 1, sn >> 1
                    if fn & 1 or fn == 0:
                        break
        else:
            fh = node_hash(fh, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and fh == second_root and sn == 0


# ---------------------------------------------------------------------------------------------
# The export


def export_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes, str]]:
    """(seq, line, entry hash) for each line of an export, in order, the chain recomputed.
    Refuses a line that is empty, has no newline, or does not start with its own seq."""
    prev = GENESIS
    seq = 0
    for raw in stream:
        seq += 1
        if not raw.endswith(b"\n"):
            raise VerifyError(
                f"line {seq} of the export has no newline at its end: the export was cut short"
            )
        line = raw[:-1]
        if not line:
            raise VerifyError(f"line {seq} of the export is empty")
        if not line.startswith(b'{"seq":%d,' % seq):
            raise VerifyError(
                f"line {seq} of the export is not entry {seq} "
                f"(it begins {line[:24].decode('utf-8', 'replace')!r}): "
                "an entry is missing, added or out of order"
            )
        prev = chain_hash(prev, line)
        yield seq, line, prev


def check_export(stream: BinaryIO, checkpoint: Checkpoint) -> tuple[int, str]:
    """The number of entries in the export and the hash of the last; raises unless the Merkle
    root over its first `checkpoint.size` entries is the checkpoint's root."""
    tree = Tree()
    entries, last = 0, GENESIS
    root = EMPTY_ROOT if checkpoint.size == 0 else None
    for seq, _, entry_hash in export_lines(stream):
        entries, last = seq, entry_hash
        if seq <= checkpoint.size:
            tree.append(leaf_hash(entry_hash))
            if seq == checkpoint.size:
                root = tree.root()
    if root is None:
        raise VerifyError(
            f"the export is truncated: it holds {entries} entries, but the checkpoint vouches "
            f"for {checkpoint.size}"
        )
    if root != checkpoint.root:
        raise VerifyError(
            f"the export's first {checkpoint.size} entries are not the log the checkpoint "
            f"signed: their Merkle root is {b64(root)}, the checkpoint's is "
            f"{b64(checkpoint.root)} (an entry was changed, removed, added or reordered, or the "
            "broker wrote one it cannot export as it hashed it)"
        )
    return entries, last


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ---------------------------------------------------------------------------------------------
# Proofs


def hash_list(value: object, what: str) -> list[bytes]:
    if not isinstance(value, list):
        raise VerifyError(f"the proof's {what} is not a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise VerifyError(f"the proof's {what}[{i}] is not a string")
        raw = b64decode(item, f"the proof's {what}[{i}]")
        if len(raw) != 32:
            raise VerifyError(f"the proof's {what}[{i}] is not 32 bytes")
        out.append(raw)
    return out


def field(proof: dict, name: str, kind: str):
    if name not in proof:
        raise VerifyError(f'the proof has no "{name}"')
    value = proof[name]
    if kind == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise VerifyError(f'the proof\'s "{name}" is not a whole number')
        return value
    if kind == "hash":
        if not isinstance(value, str):
            raise VerifyError(f'the proof\'s "{name}" is not a string')
        raw = b64decode(value, f'the proof\'s "{name}"')
        if len(raw) != 32:
            raise VerifyError(f'the proof\'s "{name}" is not 32 bytes')
        return raw
    return hash_list(value, name)


def check_inclusion(checkpoint: Checkpoint, proof: dict, export: BinaryIO | None) -> int:
    """The seq the proof shows is in the checkpoint's tree; raises unless it does."""
    seq = field(proof, "seq", "count")
    size = field(proof, "size", "count")
    index = field(proof, "leaf_index", "count")
    leaf = field(proof, "leaf_hash", "hash")
    hashes = field(proof, "hashes", "list")
    if size != checkpoint.size:
        raise VerifyError(
            f"the proof is for a log of {size} entries, the checkpoint's has {checkpoint.size}"
        )
    if seq < 1 or index != seq - 1:
        raise VerifyError(f"the proof's leaf_index {index} is not entry {seq}'s ({seq - 1})")
    if "root" in proof and field(proof, "root", "hash") != checkpoint.root:
        raise VerifyError("the proof's root is not the checkpoint's root")
    if not verify_inclusion(index, size, leaf, hashes, checkpoint.root):
        raise VerifyError(
            f"the proof does not show entry {seq} in the log the checkpoint signed "
            f"(size {checkpoint.size})"
        )
    if export is not None:
        for line_seq, _, entry_hash in export_lines(export):
            if line_seq == seq:
                if leaf_hash(entry_hash) != leaf:
                    raise VerifyError(
                        f"entry {seq} of the export is not the entry the proof shows: the export's "
                        "entries up to it differ from the log the checkpoint signed"
                    )
                break
        else:
            raise VerifyError(f"the export is truncated: it has no entry {seq}")
    return seq


def check_consistency(old: Checkpoint, new: Checkpoint, proof: dict) -> None:
    if old.size > new.size:
        raise VerifyError(
            f"OLD (size {old.size}) is larger than NEW (size {new.size}): a log only grows, "
            "so NEW cannot extend OLD"
        )
    first = field(proof, "from", "count")
    second = field(proof, "to", "count")
    hashes = field(proof, "hashes", "list")
    if (first, second) != (old.size, new.size):
        raise VerifyError(
            f"the proof is from size {first} to {second}, the checkpoints are of sizes "
            f"{old.size} and {new.size}"
        )
    if old.size == new.size and old.root != new.root:
        raise VerifyError(
            f"OLD and NEW are both of size {old.size} with different roots: the log was forked "
            "or rewritten"
        )
    if "from_root" in proof and field(proof, "from_root", "hash") != old.root:
        raise VerifyError("the proof's from_root is not OLD's root")
    if "to_root" in proof and field(proof, "to_root", "hash") != new.root:
        raise VerifyError("the proof's to_root is not NEW's root")
    if not verify_consistency(old.size, new.size, old.root, new.root, hashes):
        raise VerifyError(
            f"the proof does not show that NEW (size {new.size}) extends OLD (size {old.size}): "
            "the log signed in OLD was changed"
        )


# ---------------------------------------------------------------------------------------------
# The command line


def read_text(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UsageError(f"cannot read the {what} {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise VerifyError(f"the {what} {path} is not UTF-8 text") from None


def open_binary(path: str, what: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as e:
        raise UsageError(f"cannot read the {what} {path}: {e.strerror}") from None


def read_proof(path: str) -> dict:
    try:
        proof = json.loads(read_text(path, "proof"))
    except json.JSONDecodeError as e:
        raise VerifyError(f"the proof {path} is not JSON: {e.msg}") from None
    if not isinstance(proof, dict):
        raise VerifyError(f"the proof {path} is not a JSON object")
    return proof


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="audit_verify.py",
        description="Check the broker's audit log, its checkpoints and proofs, offline.",
    )
    p.add_argument("--key", required=True, metavar="VKEY_FILE", help="the log's verifier key")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="an export is the log a checkpoint signed")
    e.add_argument("export", metavar="AUDIT.jsonl")
    e.add_argument("checkpoint", metavar="CHECKPOINT")
    i = sub.add_parser("inclusion", help="an entry is in the log a checkpoint signed")
    i.add_argument("checkpoint", metavar="CHECKPOINT")
    i.add_argument("proof", metavar="PROOF.json")
    i.add_argument("--export", metavar="AUDIT.jsonl")
    c = sub.add_parser("consistency", help="NEW's log extends OLD's")
    c.add_argument("old", metavar="OLD")
    c.add_argument("new", metavar="NEW")
    c.add_argument("proof", metavar="PROOF.json")
    return p


def run(args: argparse.Namespace) -> str:
    verifier = parse_vkey(read_text(args.key, "verifier key"))

    def checkpoint(path: str) -> Checkpoint:
        return open_checkpoint(read_text(path, "checkpoint"), verifier)

    if args.command == "export":
        cp = checkpoint(args.checkpoint)
        with open_binary(args.export, "export") as f:
            entries, _ = check_export(f, cp)
        after = entries - cp.size
        return (
            f"verified: the export's first {cp.size} entries are the log {cp.origin} signed "
            f"at size {cp.size}\nentries: {entries}"
            + (f" ({after} after the checkpoint, not covered by it)" if after else "")
            + f"\ncheckpoint size: {cp.size}"
        )
    if args.command == "inclusion":
        cp = checkpoint(args.checkpoint)
        proof = read_proof(args.proof)
        if args.export:
            with open_binary(args.export, "export") as f:
                seq = check_inclusion(cp, proof, f)
        else:
            seq = check_inclusion(cp, proof, None)
        return f"verified: entry {seq} is in the log {cp.origin} signed at size {cp.size}"
    old, new = checkpoint(args.old), checkpoint(args.new)
    check_consistency(old, new, read_proof(args.proof))
    return f"verified: the log {new.origin} at size {new.size} extends it at size {old.size}"


def main(argv: list[str] | None = None) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        print(run(args))
        return 0
    except UsageError as e:
        print(f"audit_verify: {e}", file=sys.stderr)
        return 2
    except VerifyError as e:
        print(f"audit_verify: does not verify: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
