//! Manifests: a snapshot's `path -> blob ID` map (SPEC §3), and the one
//! diff over two of them.

use std::collections::BTreeMap;

/// A manifest: POSIX relative path → blob ID (`"sha256:<hex>"`), sorted.
pub type Manifest = BTreeMap<String, String>;

/// Kind of a change between two manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// Only in the newer side.
    Added,
    /// In both, different blobs.
    Modified,
    /// Only in the older side.
    Deleted,
}

impl ChangeKind {
    /// `A`, `M` or `D` (git's `--name-status` letters).
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Added => 'A',
            ChangeKind::Modified => 'M',
            ChangeKind::Deleted => 'D',
        }
    }
    /// `added`, `modified` or `deleted`.
    pub fn word(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Modified => "modified",
            ChangeKind::Deleted => "deleted",
        }
    }
}

/// The changes from `old` to `new`, sorted by path: one merge pass over
/// the two sorted maps.
pub fn diff_manifests(old: &Manifest, new: &Manifest) -> Vec<(String, ChangeKind)> {
    diff_sorted(old.iter().map(|(k, v)| (k.as_str(), v)), new.iter().map(|(k, v)| (k.as_str(), v)), |a, b| a == b)
}

/// [`diff_manifests`] over two `(path, value)` sequences sorted by path
/// (each path once), whose values `same` compares.
pub(crate) fn diff_sorted<'a, 'b, A, B>(
    old: impl Iterator<Item = (&'a str, A)>,
    new: impl Iterator<Item = (&'b str, B)>,
    mut same: impl FnMut(&A, &B) -> bool,
) -> Vec<(String, ChangeKind)> {
    use std::cmp::Ordering;
    let mut out = Vec::new();
    let (mut a, mut b) = (old.peekable(), new.peekable());
    loop {
        let ord = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => pa.cmp(pb),
        };
        match ord {
            Ordering::Less => {
                let (p, _) = a.next().expect("peeked");
                out.push((p.to_owned(), ChangeKind::Deleted));
            }
            Ordering::Greater => {
                let (p, _) = b.next().expect("peeked");
                out.push((p.to_owned(), ChangeKind::Added));
            }
            Ordering::Equal => {
                let ((p, x), (_, y)) = (a.next().expect("peeked"), b.next().expect("peeked"));
                if !same(&x, &y) {
                    out.push((p.to_owned(), ChangeKind::Modified));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn m(pairs: &[(&str, &str)]) -> Manifest {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The definition: every path of either side, looked up in both.
    fn naive(old: &Manifest, new: &Manifest) -> Vec<(String, ChangeKind)> {
        let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        let mut out = Vec::new();
        for p in paths {
            match (old.get(p), new.get(p)) {
                (None, Some(_)) => out.push((p.clone(), ChangeKind::Added)),
                (Some(_), None) => out.push((p.clone(), ChangeKind::Deleted)),
                (Some(a), Some(b)) if a != b => out.push((p.clone(), ChangeKind::Modified)),
                _ => {}
            }
        }
        out
    }

    #[test]
    fn diff_manifests_is_the_sorted_union_of_changes() {
        let cases = [
            (m(&[]), m(&[])),
            (m(&[("a", "1")]), m(&[])),
            (m(&[]), m(&[("a", "1")])),
            (m(&[("a", "1"), ("b", "2"), ("d", "4")]), m(&[("b", "3"), ("c", "3"), ("d", "4"), ("e", "5")])),
            (m(&[("a/b", "1"), ("a.b", "2"), ("z", "9")]), m(&[("a/b", "1"), ("a-b", "2"), ("z", "8")])),
        ];
        for (old, new) in &cases {
            assert_eq!(diff_manifests(old, new), naive(old, new), "{old:?} -> {new:?}");
        }
    }

}
