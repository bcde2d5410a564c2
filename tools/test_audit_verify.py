"""Tests of tools/audit_verify.py: logs built here, checkpoints signed here with
`cryptography`'s Ed25519 (the note written by this file, not by the script), proofs made here
from RFC 9162's definitions and checked against a brute-force tree.

Run: python3 -m unittest tools/test_audit_verify.py (tests/offline_verifier.rs runs it).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import audit_verify as v  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "audit_verify.py")
ORIGIN = "broker.example/audit"


# --- what the broker does, written out independently of the script ---------------------------


def entry_line(seq: int, action: str = "disclosure") -> bytes:
    """A canonical line shaped like the broker's (`seq` first, compact)."""
    body = {
        "at": f"2026-01-01T00:00:{seq % 60:02d}.000000Z",
        "actor_agency": "csc",
        "actor_sub": "sw1",
        "actor_roles": ["social_worker"],
        "action": action,
        "subject_id": None,
        "record_ids": [f"r{seq}"],
        "detail": {"n": seq},
    }
    return ("{" + f'"seq":{seq},' + json.dumps(body, separators=(",", ":"))[1:]).encode()


def chain(lines: list[bytes]) -> list[str]:
    out, prev = [], "sha256:" + "0" * 64
    for line in lines:
        prev = "sha256:" + hashlib.sha256(prev.encode() + b"\n" + line).hexdigest()
        out.append(prev)
    return out


def leaves(lines: list[bytes]) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + bytes.fromhex(h[7:])).digest() for h in chain(lines)]


def node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, by its definition."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return node(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1: PATH(m, D[n])."""
    if len(d) == 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1: SUBPROOF(m, D[n], b)."""
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def consistency_proof(m: int, d: list[bytes]) -> list[bytes]:
    return [] if m in (0, len(d)) else subproof(m, d, True)


class Key:
    """A log key, signing notes as the C2SP signed-note spec says (written out here)."""

    def __init__(self, name: str = ORIGIN) -> None:
        self.name = name
        self.private = Ed25519PrivateKey.generate()
        self.public = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.id = hashlib.sha256(name.encode() + b"\n\x01" + self.public).digest()[:4]

    def vkey(self) -> str:
        key = base64.b64encode(b"\x01" + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{key}"

    def sign(self, text: str) -> str:
        sig = base64.b64encode(self.id + self.private.sign(text.encode())).decode()
        return f"{text}\n\u2014 {self.name} {sig}\n"

    def checkpoint(self, size: int, root: bytes, origin: str | None = None) -> str:
        body = f"{origin or self.name}\n{size}\n{base64.b64encode(root).decode()}\n"
        return self.sign(body)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


class Files:
    """A temp dir holding the files a command reads."""

    def __init__(self, test: unittest.TestCase) -> None:
        self.dir = tempfile.TemporaryDirectory()
        test.addCleanup(self.dir.cleanup)

    def write(self, name: str, content: str | bytes) -> str:
        p = os.path.join(self.dir.name, name)
        with open(p, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        return p


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = v.main(list(argv))
    return code, out.getvalue(), err.getvalue()


# --- the tests -------------------------------------------------------------------------------


class NoteFormat(unittest.TestCase):
    GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    GO_TEXT = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    GO_SIG = (
        "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
        "ngotpRZb6KE6RyyBwJnAM=\n"
    )

    def test_the_go_reference_note_opens_and_its_key_id_is_recomputed(self):
        verifier = v.parse_vkey(self.GO_VKEY)
        public = base64.b64decode(self.GO_VKEY.split("+", 2)[2])[1:]
        independent = hashlib.sha256(b"PeterNeumann\n\x01" + public).digest()[:4].hex()
        self.assertEqual(independent, "c74f20a3")
        self.assertEqual(v.key_id("PeterNeumann", public).hex(), independent)
        note = self.GO_TEXT + "\n" + self.GO_SIG
        self.assertEqual(v.open_note(note, verifier), self.GO_TEXT)
        with self.assertRaises(v.VerifyError):
            v.open_note(note.replace("cryptography", "cryptographY"), verifier)

    def test_a_malformed_verifier_key_is_refused(self):
        for bad in [
            self.GO_VKEY.replace("c74f20a3", "c74f20a4"),
            self.GO_VKEY.replace("c74f20a3", "C74F20A3"),
            self.GO_VKEY.replace("+ARpc", "+Ahpc"),
            self.GO_VKEY[:-4],
            "PeterNeumann+c74f20a3",
            "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        ]:
            with self.subTest(bad=bad), self.assertRaises(v.UsageError):
                v.parse_vkey(bad)

    def test_a_checkpoint_body_must_be_exactly_origin_size_and_root(self):
        root = b64(bytes(32))
        self.assertEqual(v.parse_checkpoint(f"o\n0\n{root}\n").size, 0)
        for body in [
            f"o\n010\n{root}\n",
            f"o\n+10\n{root}\n",
            f"o\n\n{root}\n",
            f"o\n18446744073709551616\n{root}\n",
            f"o\n10\n{b64(bytes(31))}\n",
            f"o\n10\n{root.rstrip('=')}\n",
            f"o\n10\n{root}\nextension\n",
            "o\n10\n",
            f"\n10\n{root}\n",
        ]:
            with self.subTest(body=body), self.assertRaises(v.VerifyError):
                v.parse_checkpoint(body)

    def test_a_signature_by_another_key_is_passed_over(self):
        ours, witness = Key(), Key("witness.example/w1")
        note = ours.checkpoint(3, bytes(32))
        witness_line = witness.sign(note.split("\n\n")[0] + "\n").split("\n\n")[1]
        cp = v.open_checkpoint(note + witness_line, v.parse_vkey(ours.vkey()))
        self.assertEqual((cp.size, cp.origin), (3, ORIGIN))


class Proofs(unittest.TestCase):
    def test_the_streamed_root_is_the_brute_force_root_at_every_size(self):
        d = leaves([entry_line(i) for i in range(1, 41)])
        tree = v.Tree()
        self.assertEqual(tree.root(), mth([]))
        for n in range(1, 41):
            tree.append(d[n - 1])
            self.assertEqual(tree.root(), mth(d[:n]), n)

    def test_every_inclusion_proof_up_to_40_holds_and_a_wrong_one_does_not(self):
        d = leaves([entry_line(i) for i in range(1, 41)])
        for n in range(1, 41):
            root = mth(d[:n])
            for m in range(n):
                p = path(m, d[:n])
                self.assertTrue(v.verify_inclusion(m, n, d[m], p, root), (m, n))
                self.assertFalse(v.verify_inclusion(m, n, d[(m + 1) % 40], p, root), (m, n))
                self.assertFalse(v.verify_inclusion(m, n, d[m], p + [root], root), (m, n))
                self.assertFalse(v.verify_inclusion(n, n, d[m], p, root), (m, n))
                if p:
                    self.assertFalse(v.verify_inclusion(m, n, d[m], p[:-1], root), (m, n))
                    self.assertFalse(v.verify_inclusion(m ^ 1, n, d[m], p, root), (m, n))
                    bad = [bytes(32)] + p[1:]
                    self.assertFalse(v.verify_inclusion(m, n, d[m], bad, root), (m, n))

    def test_every_consistency_proof_up_to_40_holds_and_a_wrong_one_does_not(self):
        d = leaves([entry_line(i) for i in range(1, 41)])
        forked = leaves([entry_line(i, "forked" if i == 1 else "disclosure") for i in range(1, 41)])
        for n in range(1, 41):
            for m in range(0, n + 1):
                p = consistency_proof(m, d[:n])
                old, new = mth(d[:m]), mth(d[:n])
                self.assertTrue(v.verify_consistency(m, n, old, new, p), (m, n))
                if 0 < m:
                    self.assertFalse(v.verify_consistency(m, n, mth(forked[:m]), new, p), (m, n))
                if 0 < m < n:
                    self.assertFalse(v.verify_consistency(m, n, old, mth(forked[:n]), p), (m, n))
                    self.assertFalse(v.verify_consistency(m, n, old, new, p[:-1]), (m, n))
                    self.assertFalse(v.verify_consistency(m, n, old, new, p + [new]), (m, n))
                    self.assertFalse(v.verify_consistency(n, m, new, old, p), (m, n))
                    self.assertFalse(v.verify_consistency(m, n, old, new, []), (m, n))


class Commands(unittest.TestCase):
    def setUp(self):
        self.files = Files(self)
        self.key = Key()
        self.vkey = self.files.write("log.vkey", self.key.vkey() + "\n")
        self.lines = [entry_line(i) for i in range(1, 13)]
        self.d = leaves(self.lines)

    def run_(self, *argv: str) -> tuple[int, str, str]:
        """The script run with the log's verifier key and `argv`."""
        return run("--key", self.vkey, *argv)

    def export(self, lines: list[bytes], name: str = "audit.jsonl") -> str:
        return self.files.write(name, b"".join(line + b"\n" for line in lines))

    def checkpoint(self, size: int, key: Key | None = None, name: str = "cp", **kw) -> str:
        key = key or self.key
        return self.files.write(name, key.checkpoint(size, mth(self.d[:size]), **kw))

    def test_an_export_matching_its_checkpoint_verifies_and_says_what_it_covered(self):
        code, out, err = self.run_("export", self.export(self.lines), self.checkpoint(10))
        self.assertEqual(code, 0, err)
        self.assertIn("entries: 12 (2 after the checkpoint", out)
        self.assertIn("checkpoint size: 10", out)
        code, out, err = self.run_("export", self.export(self.lines[:10]), self.checkpoint(10))
        self.assertEqual(code, 0, err)
        code, out, err = self.run_("export", self.export([]), self.checkpoint(0))
        self.assertEqual(code, 0, err)

    def test_a_truncated_export_is_named_truncated(self):
        code, _, err = self.run_("export", self.export(self.lines[:7]), self.checkpoint(10))
        self.assertEqual(code, 1)
        self.assertIn("truncated", err)
        self.assertIn("7 entries", err)

    def test_a_rewritten_suffix_with_its_chain_recomputed_does_not_verify(self):
        rewritten = self.lines[:7] + [entry_line(i, "nothing.to.see") for i in range(8, 13)]
        code, _, err = self.run_("export", self.export(rewritten), self.checkpoint(10))
        self.assertEqual(code, 1)
        self.assertIn("not the log the checkpoint signed", err)

    def test_a_removed_entry_with_the_rest_renumbered_and_rechained_does_not_verify(self):
        renumbered = [
            line.replace(b'{"seq":%d,' % (i + 2), b'{"seq":%d,' % (i + 1), 1)
            for i, line in enumerate(self.lines[:4] + self.lines[5:])
        ]
        renumbered[:4] = self.lines[:4]
        code, _, err = self.run_("export", self.export(renumbered), self.checkpoint(10))
        self.assertEqual(code, 1, err)
        self.assertIn("not the log the checkpoint signed", err)
        gap = self.lines[:4] + self.lines[5:]
        code, _, err = self.run_("export", self.export(gap), self.checkpoint(10))
        self.assertEqual(code, 1)
        self.assertIn("line 5 of the export is not entry 5", err)

    def test_a_cut_last_line_or_an_empty_line_is_refused(self):
        cut = self.files.write("cut.jsonl", b"\n".join(self.lines))
        code, _, err = self.run_("export", cut, self.checkpoint(10))
        self.assertEqual(code, 1)
        self.assertIn("no newline", err)
        blank = self.files.write("blank.jsonl", b"\n")
        code, _, err = self.run_("export", blank, self.checkpoint(0))
        self.assertEqual(code, 1)
        self.assertIn("empty", err)

    def test_a_bad_signature_a_tampered_checkpoint_or_a_wrong_key_is_refused(self):
        export = self.export(self.lines)
        note = self.key.checkpoint(10, mth(self.d[:10]))
        sig_at = note.rindex(" ") + 1
        flipped = note[:sig_at] + ("A" if note[sig_at + 10] != "A" else "B").join(
            [note[sig_at : sig_at + 10], note[sig_at + 11 :]]
        )
        cases = {
            "bad signature": (flipped, "does not verify"),
            "size changed": (note.replace("\n10\n", "\n9\n", 1), "does not verify"),
            "other key, same name": (Key().checkpoint(10, mth(self.d[:10])), "no signature"),
            "other origin": (
                self.key.checkpoint(10, mth(self.d[:10]), origin="other.example/audit"),
                "not of",
            ),
        }
        for what, (text, says) in cases.items():
            with self.subTest(what):
                code, _, err = self.run_("export", export, self.files.write("bad", text))
                self.assertEqual(code, 1, err)
                self.assertIn(says, err)

    def inclusion_proof(self, seq: int, size: int) -> dict:
        return {
            "seq": seq,
            "size": size,
            "leaf_index": seq - 1,
            "leaf_hash": b64(self.d[seq - 1]),
            "hashes": [b64(h) for h in path(seq - 1, self.d[:size])],
            "root": b64(mth(self.d[:size])),
        }

    def test_an_inclusion_proof_holds_against_its_checkpoint_and_the_export(self):
        cp = self.checkpoint(10)
        proof = self.files.write("p.json", json.dumps(self.inclusion_proof(5, 10)))
        code, out, err = self.run_("inclusion", cp, proof)
        self.assertEqual(code, 0, err)
        self.assertIn("entry 5", out)
        code, _, err = self.run_("inclusion", cp, proof, "--export", self.export(self.lines))
        self.assertEqual(code, 0, err)

    def test_a_wrong_inclusion_proof_is_refused_saying_why(self):
        cp = self.checkpoint(10)
        good = self.inclusion_proof(5, 10)
        other_leaf = dict(good, leaf_hash=b64(self.d[5]))
        cases = {
            "another size": (self.inclusion_proof(5, 11), None, "log of 11 entries"),
            "another leaf": (other_leaf, None, "does not show entry 5"),
            "index": (dict(good, leaf_index=5), None, "leaf_index"),
            "json root": (dict(good, root=b64(bytes(32))), None, "root is not the checkpoint's"),
            "export differs": (
                good,
                [entry_line(1, "x")] + self.lines[1:],
                "not the entry the proof shows",
            ),
            "export short": (good, self.lines[:3], "truncated"),
            "not a number": (dict(good, size="10"), None, "whole number"),
        }
        for what, (proof, lines, says) in cases.items():
            with self.subTest(what):
                args = ["inclusion", cp, self.files.write("p.json", json.dumps(proof))]
                if lines is not None:
                    args += ["--export", self.export(lines, "other.jsonl")]
                code, _, err = self.run_(*args)
                self.assertEqual(code, 1, err)
                self.assertIn(says, err)

    def consistency(self, m: int, n: int, d: list[bytes] | None = None) -> str:
        d = d or self.d
        proof = {
            "from": m,
            "to": n,
            "hashes": [b64(h) for h in consistency_proof(m, d[:n])],
            "from_root": b64(mth(d[:m])),
            "to_root": b64(mth(d[:n])),
        }
        return self.files.write("c.json", json.dumps(proof))

    def test_a_consistency_proof_shows_new_extends_old(self):
        old, new = self.checkpoint(4, name="old"), self.checkpoint(10, name="new")
        code, out, err = self.run_("consistency", old, new, self.consistency(4, 10))
        self.assertEqual(code, 0, err)
        self.assertIn("extends", out)
        code, _, err = self.run_("consistency", new, new, self.consistency(10, 10))
        self.assertEqual(code, 0, err)

    def test_a_log_rewritten_forked_or_shrunk_is_caught_by_the_witness_check(self):
        old, new = self.checkpoint(4, name="old"), self.checkpoint(10, name="new")
        code, _, err = self.run_("consistency", new, old, self.consistency(4, 10))
        self.assertEqual(code, 1)
        self.assertIn("larger than NEW", err)
        forked = leaves([entry_line(1, "forked")] + self.lines[1:])
        fork = self.files.write("fork", self.key.checkpoint(10, mth(forked[:10])))
        code, _, err = self.run_("consistency", old, fork, self.consistency(4, 10, forked))
        self.assertEqual(code, 1)
        self.assertIn("from_root is not OLD's root", err)
        with open(self.consistency(4, 10, forked)) as f:
            bare = json.load(f)
        del bare["from_root"], bare["to_root"]
        bare = self.files.write("b.json", json.dumps(bare))
        code, _, err = self.run_("consistency", old, fork, bare)
        self.assertEqual(code, 1)
        self.assertIn("does not show that NEW", err)
        code, _, err = self.run_("consistency", new, fork, self.consistency(10, 10))
        self.assertEqual(code, 1)
        self.assertIn("forked", err)
        code, _, err = self.run_("consistency", old, new, self.consistency(5, 10))
        self.assertEqual(code, 1)
        self.assertIn("from size 5", err)

    def test_bad_usage_exits_2_and_the_script_runs_as_a_program(self):
        code, _, _ = run("export", "a", "b")
        self.assertEqual(code, 2)
        code, _, err = self.run_("export", "/nonexistent/audit.jsonl", self.checkpoint(1))
        self.assertEqual(code, 2)
        self.assertIn("cannot read the export", err)
        not_a_key = self.files.write("k", "not a key")
        args = ["export", self.export(self.lines), self.checkpoint(1)]
        code, _, err = run("--key", not_a_key, *args)
        self.assertEqual(code, 2)
        self.assertIn("verifier key", err)
        program = [sys.executable, SCRIPT, "--key", self.vkey, "export"]
        ran = subprocess.run(
            program + [self.export(self.lines), self.checkpoint(12)], capture_output=True, text=True
        )
        self.assertEqual(ran.returncode, 0, ran.stderr)
        ran = subprocess.run(
            program + [self.export(self.lines[:2]), self.checkpoint(12)],
            capture_output=True,
            text=True,
        )
        self.assertEqual(ran.returncode, 1)
        self.assertIn("truncated", ran.stderr)


if __name__ == "__main__":
    unittest.main()
