//! Checks that need no database: an export (`broker audit export --jsonl`) against a
//! checkpoint, and a witness's check that a newer checkpoint extends an older one. The same
//! checks, in Python for outsiders, are `tools/audit_verify.py`.

use std::io::BufRead;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::GENESIS;
use super::proofs::ConsistencyProof;
use super::tree::{self, Frontier, Hash};

/// The verdict on an export against a checkpoint.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExportVerdict {
    pub ok: bool,
    /// Lines (entries) in the export.
    pub entries: u64,
    pub checkpoint_size: u64,
    /// The first entry that is out of place or not what the checkpoint signed, if any.
    pub first_bad_seq: Option<u64>,
    pub problem: Option<String>,
}

/// Recomputes the chain and the tree over the export's lines (each the canonical encoding of
/// one entry, in seq order) and checks the tree's root at `size` entries is `root`.
pub fn verify_export(
    export: impl BufRead,
    size: u64,
    root: &Hash,
) -> std::io::Result<ExportVerdict> {
    let mut prev = GENESIS.to_owned();
    let mut frontier = Frontier::default();
    let mut unused = Vec::new();
    let mut matched = size == 0 && &tree::empty_root() == root;
    let verdict = |entries, bad: Option<u64>, why: Option<String>| ExportVerdict {
        ok: why.is_none(),
        entries,
        checkpoint_size: size,
        first_bad_seq: bad,
        problem: why,
    };
    let mut entries = 0u64;
    let mut blank = false;
    for line in export.split(b'\n') {
        let line = line?;
        if blank {
            // a blank line before another: the export is not one entry per line
            return Ok(verdict(
                entries,
                Some(entries + 1),
                Some(format!("line {entries} is followed by an empty line")),
            ));
        }
        if line.is_empty() {
            // only the end of the file (after the last newline) may be empty
            blank = true;
            continue;
        }
        entries += 1;
        let prefix = format!("{{\"seq\":{entries},");
        if !line.starts_with(prefix.as_bytes()) {
            return Ok(verdict(
                entries,
                Some(entries),
                Some(format!("line {entries} is not entry {entries}")),
            ));
        }
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(b"\n");
        h.update(&line);
        prev = format!("sha256:{}", hex::encode(h.finalize()));
        frontier.push(tree::leaf_of(&prev).expect("sha256:<hex>"), &mut unused);
        unused.clear();
        if entries == size {
            if &frontier.root() != root {
                return Ok(verdict(
                    entries,
                    None,
                    Some(format!(
                        "the first {size} entries of the export are not the ones the checkpoint \
                         signed: they were changed"
                    )),
                ));
            }
            matched = true;
        }
    }
    if entries < size {
        return Ok(verdict(
            entries,
            Some(entries + 1),
            Some(format!(
                "the export has {entries} entries, fewer than the {size} the checkpoint signed: \
                 it was cut short"
            )),
        ));
    }
    Ok(verdict(
        entries,
        None,
        (!matched).then(|| "the empty checkpoint's root is wrong".to_owned()),
    ))
}

/// Does `proof` show the tree of `new_size` leaves (root `new_root`) extends the tree of
/// `old_size` leaves (root `old_root`)? The roots come from signed checkpoints; the proof's own
/// roots are only compared with them.
pub fn verify_witness(
    (old_size, old_root): (u64, &Hash),
    (new_size, new_root): (u64, &Hash),
    proof: &ConsistencyProof,
) -> Result<(), String> {
    if proof.from != old_size || proof.to != new_size {
        return Err(format!(
            "the proof is from {} to {}, not from {old_size} to {new_size}",
            proof.from, proof.to
        ));
    }
    if old_size > new_size {
        return Err(format!(
            "the newer checkpoint has {new_size} entries, fewer than the older's {old_size}: the \
             log was cut short"
        ));
    }
    let hashes: Option<Vec<Hash>> = proof.hashes.iter().map(|h| decode_hash(h)).collect();
    let hashes = hashes.ok_or("a hash in the proof is not base64 of 32 bytes")?;
    tree::verify_consistency(old_size, new_size, old_root, new_root, &hashes).map_err(|e| {
        format!("the newer checkpoint does not extend the older one: {e}; the log was rewritten")
    })
}

/// A base64 (standard, padded) 32-byte hash.
pub fn decode_hash(b64: &str) -> Option<Hash> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()?
        .try_into()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: u64) -> Vec<String> {
        (1..=n)
            .map(|i| format!("{{\"seq\":{i},\"at\":\"t{i}\"}}"))
            .collect()
    }

    fn root_of(lines: &[String]) -> Hash {
        let mut prev = GENESIS.to_owned();
        let mut f = Frontier::default();
        for line in lines {
            prev = format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{prev}\n{line}").as_bytes()))
            );
            f.push(tree::leaf_of(&prev).expect("hash"), &mut Vec::new());
        }
        f.root()
    }

    fn check(lines: &[String], size: u64, root: &Hash) -> ExportVerdict {
        let text = lines.join("\n") + "\n";
        verify_export(text.as_bytes(), size, root).expect("reading")
    }

    #[test]
    fn an_export_verifies_against_an_earlier_checkpoint_and_not_when_cut_or_rewritten() {
        let all = lines(20);
        let root = root_of(&all[..12]);
        assert!(check(&all, 12, &root).ok);
        assert!(check(&all[..12], 12, &root).ok);
        let cut = check(&all[..11], 12, &root);
        assert_eq!(cut.first_bad_seq, Some(12));
        assert!(cut.problem.expect("a problem").contains("cut short"));
        let mut rewritten = all.clone();
        rewritten[5] = "{\"seq\":6,\"at\":\"rewritten\"}".to_owned();
        assert!(
            !check(&rewritten, 12, &root).ok,
            "a changed entry before the checkpoint"
        );
        assert!(
            check(&rewritten, 5, &root_of(&all[..5])).ok,
            "after it, it is new history"
        );
        let blank = format!("{}\n\n{}\n", all[..3].join("\n"), all[3..].join("\n"));
        let v = verify_export(blank.as_bytes(), 12, &root).expect("reading");
        assert!(!v.ok && v.problem.is_some_and(|p| p.contains("empty line")));
        let mut shuffled = all.clone();
        shuffled.swap(2, 3);
        assert_eq!(check(&shuffled, 12, &root).first_bad_seq, Some(3));
    }
}
