//! The Merkle tree over the audit log (RFC 9162, section 2.1), kept as each entry is appended,
//! so a signed checkpoint of its root can be checked by anyone later against a log that may
//! have been rewritten since.
//!
//! Leaf `i` (0-based; the entry with seq `i + 1`) is `SHA-256(0x00 || D)`, where `D` is the 32
//! bytes of the entry's chain hash. The chain hash covers the entry and the one before it, so a
//! tree of `n` leaves vouches for entries 1..=n through its last leaf alone. An interior node
//! is `SHA-256(0x01 || left || right)`, and the tree of `n` leaves is RFC 9162's `MTH`.
//!
//! What is stored: every node of every perfect subtree (each leaf, and each node whose subtree
//! is complete), keyed by [`node_key`]; and, with the head, the [`Frontier`]: the roots of the
//! perfect subtrees the leaves make so far, from which the root follows. Stored nodes never
//! change once written, so any older tree's root and any proof are made from them.
//!
//! This module is pure: the proof makers take a function that gives a stored node, and
//! [`Needed`] first collects which nodes a proof uses, so they are read in one query.

use sha2::{Digest, Sha256};

/// A node's hash.
pub type Hash = [u8; 32];

/// RFC 9162's hash of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The leaf for an entry whose chain hash is `chain_hash` (`sha256:<hex>`); `None` if it is
/// not of that form.
pub fn leaf_of(chain_hash: &str) -> Option<Hash> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(chain_hash.strip_prefix("sha256:")?, &mut digest).ok()?;
    Some(leaf_hash(&digest))
}

/// `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The key a node is stored under: its level (0 for leaves) in the top bits, its index within
/// the level below them. The node at `level`, `index` covers leaves
/// `index << level .. (index + 1) << level`.
pub fn node_key(level: u32, index: u64) -> i64 {
    ((u64::from(level) << 48) | index) as i64
}

/// The largest power of two smaller than `n` (`n > 1`).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// The roots of the perfect subtrees of a tree, biggest (leftmost) first: enough to extend it
/// and to give its root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The leaves so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `leaf`; `stored` receives `(key, hash)` of the nodes it completes: the leaf and
    /// each interior node whose subtree it fills.
    pub fn push(&mut self, leaf: Hash, stored: &mut Vec<(i64, Hash)>) {
        let mut index = self.size;
        let mut level = 0;
        let mut hash = leaf;
        stored.push((node_key(0, index), hash));
        while index & 1 == 1 {
            let left = self.nodes.pop().expect("an odd index has a left sibling");
            hash = node_hash(&left, &hash);
            index >>= 1;
            level += 1;
            stored.push((node_key(level, index), hash));
        }
        self.nodes.push(hash);
        self.size += 1;
    }

    /// The tree's root ([`empty_root`] for no leaves).
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        match nodes.next() {
            None => empty_root(),
            Some(last) => nodes.fold(*last, |right, left| node_hash(left, &right)),
        }
    }

    /// The stored form: the nodes' bytes, one after another.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.nodes.concat()
    }

    /// The frontier of a tree of `size` leaves from its stored form; `None` if the bytes are not
    /// one node for each set bit of `size`.
    pub fn from_bytes(size: u64, bytes: &[u8]) -> Option<Frontier> {
        if bytes.len() != 32 * size.count_ones() as usize {
            return None;
        }
        let nodes = bytes
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        Some(Frontier { size, nodes })
    }

    /// The keys of the stored nodes that make the frontier of a tree of `size` leaves, biggest
    /// first.
    pub fn keys(size: u64) -> Vec<i64> {
        (0..64u32)
            .rev()
            .filter(|level| size >> level & 1 == 1)
            .map(|level| node_key(level, (size >> level) - 1))
            .collect()
    }

    /// The frontier of a tree of `size` leaves from its stored nodes.
    pub fn from_nodes(size: u64, node: &mut impl FnMut(i64) -> Hash) -> Frontier {
        Frontier {
            size,
            nodes: Frontier::keys(size).into_iter().map(node).collect(),
        }
    }
}

/// The hash of leaves `start..end` from stored nodes, where `start` is a multiple of a power
/// of two at least `end - start` (as every subtree in RFC 9162's proofs is): the perfect
/// subtrees its length's bits name, folded from the right.
fn subtree(start: u64, end: u64, node: &mut impl FnMut(i64) -> Hash) -> Hash {
    let mut parts = Vec::new();
    let mut at = start;
    for level in (0..64u32).rev() {
        if (end - start) >> level & 1 == 1 {
            parts.push(node(node_key(level, at >> level)));
            at += 1 << level;
        }
    }
    let mut parts = parts.into_iter().rev();
    let last = parts.next().unwrap_or_else(empty_root);
    parts.fold(last, |right, left| node_hash(&left, &right))
}

/// RFC 9162 `PATH(m, D[start:end])`, appended to `out`.
fn path(m: u64, start: u64, end: u64, node: &mut impl FnMut(i64) -> Hash, out: &mut Vec<Hash>) {
    let n = end - start;
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, start, start + k, node, out);
        out.push(subtree(start + k, end, node));
    } else {
        path(m - k, start + k, end, node, out);
        out.push(subtree(start, start + k, node));
    }
}

/// RFC 9162 `SUBPROOF(m, D[start:end], b)`, appended to `out`.
fn subproof(
    m: u64,
    start: u64,
    end: u64,
    whole: bool,
    node: &mut impl FnMut(i64) -> Hash,
    out: &mut Vec<Hash>,
) {
    let n = end - start;
    if m == n {
        if !whole {
            out.push(subtree(start, end, node));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, start, start + k, whole, node, out);
        out.push(subtree(start + k, end, node));
    } else {
        subproof(m - k, start + k, end, false, node, out);
        out.push(subtree(start, start + k, node));
    }
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (`index < size`).
pub fn inclusion_proof(index: u64, size: u64, node: &mut impl FnMut(i64) -> Hash) -> Vec<Hash> {
    let mut out = Vec::new();
    path(index, 0, size, node, &mut out);
    out
}

/// The consistency proof from the tree of `from` leaves to the tree of `to` leaves
/// (`from <= to`; empty when `from` is 0 or equals `to`).
pub fn consistency_proof(from: u64, to: u64, node: &mut impl FnMut(i64) -> Hash) -> Vec<Hash> {
    let mut out = Vec::new();
    if from > 0 && from < to {
        subproof(from, 0, to, true, node, &mut out);
    }
    out
}

/// The nodes a proof reads: run the maker with [`Needed::node`] to collect them, read them,
/// then run it again with the values.
#[derive(Debug, Default)]
pub struct Needed(pub std::collections::BTreeSet<i64>);

impl Needed {
    /// Records `key` and answers a placeholder.
    pub fn node(&mut self, key: i64) -> Hash {
        self.0.insert(key);
        [0; 32]
    }
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the proof is for a position outside the tree")]
    OutOfRange,
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root")]
    Mismatch,
}

/// RFC 9162 2.1.3.2: does `proof` show `leaf` at `index` in the tree of `size` leaves whose
/// root is `root`?
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::OutOfRange);
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &r != root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

/// RFC 9162 2.1.4.2: does `proof` show the tree of `to` leaves (root `to_root`) extends the
/// tree of `from` leaves (root `from_root`)?
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if from > to {
        return Err(ProofError::OutOfRange);
    }
    if from == to || from == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        let holds = if from == 0 {
            from_root == &empty_root()
        } else {
            from_root == to_root
        };
        return if holds {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else {
        return Err(ProofError::WrongLength);
    };
    let (mut f, mut s) = (from - 1, to - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return Err(ProofError::WrongLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength);
    }
    if &fr != from_root || &sr != to_root {
        return Err(ProofError::Mismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// RFC 9162 `MTH`, straight from its definition.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// A tree of `n` leaves built by [`Frontier::push`], with its stored nodes.
    fn grown(n: u64) -> (Frontier, HashMap<i64, Hash>, Vec<Frontier>) {
        let mut f = Frontier::default();
        let mut stored = Vec::new();
        let mut history = vec![f.clone()];
        for leaf in leaves(n) {
            f.push(leaf, &mut stored);
            history.push(f.clone());
        }
        (f, stored.into_iter().collect(), history)
    }

    #[test]
    fn the_frontier_root_is_mth_at_every_size() {
        let all = leaves(70);
        let (_, nodes, history) = grown(70);
        for (n, f) in history.iter().enumerate() {
            assert_eq!(f.root(), mth(&all[..n]), "size {n}");
            let rebuilt = Frontier::from_nodes(n as u64, &mut |k| nodes[&k]);
            assert_eq!(&rebuilt, f, "size {n} from stored nodes");
            let stored = Frontier::from_bytes(n as u64, &f.to_bytes()).expect("round trip");
            assert_eq!(&stored, f);
        }
        assert!(
            Frontier::from_bytes(3, &[0; 32]).is_none(),
            "3 leaves need two nodes"
        );
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_does_not() {
        let all = leaves(41);
        let (_, nodes, _) = grown(40);
        for size in 1..=40u64 {
            let root = mth(&all[..size as usize]);
            for index in 0..size {
                let proof = inclusion_proof(index, size, &mut |k| nodes[&k]);
                let leaf = all[index as usize];
                assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));
                let other = all[(index as usize + 1) % 40];
                assert!(verify_inclusion(index, size, &other, &proof, &root).is_err());
                if size > 1 {
                    assert!(verify_inclusion(index, size, &leaf, &proof[1..], &root).is_err());
                    let later = mth(&all[..size as usize + 1]);
                    assert!(verify_inclusion(index, size, &leaf, &proof, &later).is_err());
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_tree_does_not() {
        let all = leaves(40);
        let (_, nodes, _) = grown(40);
        for to in 1..=40u64 {
            let to_root = mth(&all[..to as usize]);
            for from in 0..=to {
                let from_root = mth(&all[..from as usize]);
                let proof = consistency_proof(from, to, &mut |k| nodes[&k]);
                assert_eq!(
                    verify_consistency(from, to, &from_root, &to_root, &proof),
                    Ok(()),
                    "{from} -> {to}"
                );
                if from > 0 && from < to {
                    // the same sizes, but the older tree had another leaf
                    let mut rewritten = all[..from as usize].to_vec();
                    rewritten[0] = leaf_hash(b"rewritten");
                    let bad = mth(&rewritten);
                    assert!(verify_consistency(from, to, &bad, &to_root, &proof).is_err());
                }
            }
        }
    }

    #[test]
    fn needed_names_every_node_a_proof_reads() {
        let (_, nodes, _) = grown(1000);
        let mut needed = Needed::default();
        let blank = inclusion_proof(345, 999, &mut |k| needed.node(k));
        let read: HashMap<i64, Hash> = needed.0.iter().map(|k| (*k, nodes[k])).collect();
        let proof = inclusion_proof(345, 999, &mut |k| read[&k]);
        assert_eq!(proof.len(), blank.len());
        assert_eq!(proof, inclusion_proof(345, 999, &mut |k| nodes[&k]));
    }

    #[test]
    fn a_leaf_is_made_from_the_chain_hash() {
        let hash = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(leaf_of(&hash), Some(leaf_hash(&[0xab; 32])));
        assert_eq!(leaf_of("sha256:zz"), None);
        assert_eq!(leaf_of(&"ab".repeat(32)), None);
    }
}
