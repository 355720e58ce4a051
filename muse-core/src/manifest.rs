//! Manifests: a snapshot's `path -> blob ID` map (SPEC §3), and the one
//! diff over two of them.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::records::{SnapshotRecord, SnapshotView};

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

/// One difference found by [`walk_changes`].
#[derive(Debug)]
pub(crate) enum Change<'a, 'b, A, B> {
    /// Only in the old sequence.
    Deleted(&'a str, A),
    /// Only in the new sequence.
    Added(&'b str, B),
    /// In both, with values `same` says differ.
    Modified(&'b str, A, B),
}

/// The one two-pointer walk over two `(path, value)` sequences sorted by
/// path (each path once): calls `f` with every difference, in path order;
/// values are compared with `same`. What [`diff_manifests`], status, and
/// the snapshot and bundle deltas run.
pub(crate) fn walk_changes<'a, 'b, A, B>(
    old: impl Iterator<Item = (&'a str, A)>,
    new: impl Iterator<Item = (&'b str, B)>,
    mut same: impl FnMut(&A, &B) -> bool,
    mut f: impl FnMut(Change<'a, 'b, A, B>),
) {
    use std::cmp::Ordering;
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
                let (p, x) = a.next().expect("peeked");
                f(Change::Deleted(p, x));
            }
            Ordering::Greater => {
                let (p, y) = b.next().expect("peeked");
                f(Change::Added(p, y));
            }
            Ordering::Equal => {
                let ((_, x), (p, y)) = (a.next().expect("peeked"), b.next().expect("peeked"));
                if !same(&x, &y) {
                    f(Change::Modified(p, x, y));
                }
            }
        }
    }
}

/// [`diff_manifests`] over two `(path, value)` sequences sorted by path
/// (each path once), whose values `same` compares.
pub(crate) fn diff_sorted<'a, 'b, A, B>(
    old: impl Iterator<Item = (&'a str, A)>,
    new: impl Iterator<Item = (&'b str, B)>,
    same: impl FnMut(&A, &B) -> bool,
) -> Vec<(String, ChangeKind)> {
    let mut out = Vec::new();
    walk_changes(old, new, same, |c| {
        out.push(match c {
            Change::Deleted(p, _) => (p.to_owned(), ChangeKind::Deleted),
            Change::Added(p, _) => (p.to_owned(), ChangeKind::Added),
            Change::Modified(p, _, _) => (p.to_owned(), ChangeKind::Modified),
        })
    });
    out
}

/// The delta from `base` to `manifest`: the entries of `manifest` that
/// `base` lacks or maps differently (`upsert`), and the paths of `base`
/// that `manifest` lacks (`remove`), both borrowed, in path order.
pub(crate) fn delta<'m>(base: &'m Manifest, manifest: &'m Manifest) -> (Vec<(&'m str, &'m str)>, Vec<&'m str>) {
    let (mut upsert, mut remove) = (Vec::new(), Vec::new());
    let it = |m: &'m Manifest| m.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    walk_changes(it(base), it(manifest), |x, y| x == y, |c| match c {
        Change::Deleted(p, _) => remove.push(p),
        Change::Added(p, v) | Change::Modified(p, _, v) => upsert.push((p, v)),
    });
    (upsert, remove)
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

/// A manifest as a persistent map (`imbl`'s B-tree with shared nodes) of
/// path → blob ID, for writers that derive one manifest from another
/// (bundle apply, git import): a copy is a pointer copy and an update
/// copies only the few nodes on its path, so keeping many related
/// manifests at hand costs their differences, not their sizes. A whole
/// `BTreeMap<String, String>` copy (and its free) per snapshot was most of
/// those writers' time.
pub(crate) type Shared = imbl::OrdMap<Arc<str>, Arc<str>>;

/// `hash_snapshot` (SPEC §2) of a [`Shared`] manifest.
pub(crate) fn hash_shared(m: &Shared) -> String {
    crate::ids::hash_sorted_snapshot(m.iter().map(|(k, v)| (&**k, &**v)))
}

/// A [`Shared`] manifest as a plain [`Manifest`] (a full copy).
pub(crate) fn shared_to_manifest(m: &Shared) -> Manifest {
    m.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A plain [`Manifest`] as a [`Shared`] one.
pub(crate) fn manifest_to_shared(m: Manifest) -> Shared {
    m.into_iter().map(|(k, v)| (Arc::from(k), Arc::from(v))).collect()
}

/// [`crate::paths::check_no_file_dir_clash_at`] on a [`Shared`] manifest:
/// `path` (in `m`) is not also a directory of `m`, and no directory above
/// it is a file of `m`.
///
/// # Errors
/// [`crate::error::Error::InvalidInput`] naming both paths.
pub(crate) fn check_shared_clash_at(m: &Shared, path: &str) -> crate::error::Result<()> {
    crate::paths::check_no_file_dir_clash_with(
        path,
        |dir| m.contains_key(dir),
        |prefix| {
            m.range::<_, str>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
                .next()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, _)| k.to_string())
        },
    )
}

/// A snapshot whose manifest is [`Shared`], as the write batch takes it
/// ([`SnapshotView`]): the batch looks up only the changed paths, and
/// builds the whole record only for a full one.
pub(crate) struct SharedView<'a> {
    /// The snapshot ID (`hash_snapshot` of `manifest`; not checked here).
    pub(crate) sid: &'a str,
    /// Creation time, ISO-8601.
    pub(crate) created_at: String,
    /// The manifest.
    pub(crate) manifest: &'a Shared,
}

impl SnapshotView for SharedView<'_> {
    fn snapshot_id(&self) -> &str {
        self.sid
    }

    fn created_at(&self) -> &str {
        &self.created_at
    }

    fn extra(&self) -> &[(String, rmpv::Value)] {
        &[]
    }

    fn entry_count(&self) -> usize {
        self.manifest.len()
    }

    fn entry(&self, path: &str) -> Option<(&str, &str)> {
        self.manifest.get_key_value(path).map(|(k, v)| (&**k, &**v))
    }

    fn to_record(&self) -> std::borrow::Cow<'_, SnapshotRecord> {
        std::borrow::Cow::Owned(SnapshotRecord {
            snapshot_id: self.sid.to_string(),
            manifest: shared_to_manifest(self.manifest),
            created_at: self.created_at.clone(),
            extra: Vec::new(),
        })
    }
}
