//! Three-way merge of one file's content: git's `merge-file` (the text
//! driver of its merges), with the `diff3` conflict style.
//!
//! Lines changed on one side only take that side; the same change on both
//! sides is taken once; changes that overlap (or touch: git needs an
//! unchanged line between two sides' edits) are a conflict, written with
//! markers around that hunk only, the base section included (git's
//! `merge.conflictStyle = diff3`):
//!
//! ```text
//! <<<<<<< HEAD
//! our line
//! ||||||| base
//! the common ancestor's line
//! =======
//! their line
//! >>>>>>> topic
//! ```
//!
//! Binary content (a NUL byte in the first 8,000 bytes, git's rule) is not
//! merged line by line: it conflicts whole. The line diff is the `diffy`
//! crate's (Myers).

/// The labels written after the conflict markers.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// After `<<<<<<<` (ours; git writes `HEAD`).
    pub ours: &'a str,
    /// After `|||||||` (the merge base).
    pub base: &'a str,
    /// After `>>>>>>>` (theirs: the branch or revision merged).
    pub theirs: &'a str,
}

/// The result of [`merge_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileMerge {
    /// Merged without conflict: the new content.
    Clean(Vec<u8>),
    /// Merged with conflicts: the content with conflict markers around
    /// each conflicting hunk (and everything else merged).
    Conflict(Vec<u8>),
    /// One of the three is binary: not merged.
    Binary,
}

/// How many leading bytes [`is_binary`] looks at (git's
/// `FIRST_FEW_BYTES`).
pub const BINARY_SNIFF_BYTES: usize = 8000;

/// True when `data` looks binary: a NUL byte among its first
/// [`BINARY_SNIFF_BYTES`] bytes (git's `buffer_is_binary`).
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

/// Merges `ours` and `theirs`, both changed from `base` (an absent side is
/// empty: an add/add merge has an empty base), line by line. Deterministic:
/// the same inputs give the same bytes.
pub fn merge_file(base: &[u8], ours: &[u8], theirs: &[u8], labels: &Labels<'_>) -> FileMerge {
    if is_binary(base) || is_binary(ours) || is_binary(theirs) {
        return FileMerge::Binary;
    }
    let mut opts = diffy::MergeOptions::new();
    opts.set_conflict_style(diffy::ConflictStyle::Diff3);
    match opts.merge_bytes(base, ours, theirs) {
        Ok(merged) => FileMerge::Clean(merged),
        Err(with_markers) => {
            // diffy labels its markers `ours` / `original` / `theirs`; they
            // are relabelled unless an input has marker-like lines of its
            // own (which could then not be told apart).
            if [base, ours, theirs].iter().any(|d| has_marker_lines(d)) {
                FileMerge::Conflict(with_markers)
            } else {
                FileMerge::Conflict(relabel(&with_markers, labels))
            }
        }
    }
}

/// True when a line of `data` starts with seven `<`, `|`, `=` or `>`.
fn has_marker_lines(data: &[u8]) -> bool {
    data.split(|&b| b == b'\n').any(|line| {
        line.len() >= 7 && matches!(line[0], b'<' | b'|' | b'=' | b'>') && line[..7].iter().all(|&c| c == line[0])
    })
}

/// Replaces diffy's marker labels with `labels`, line by line.
fn relabel(text: &[u8], labels: &Labels<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 32);
    for line in text.split_inclusive(|&b| b == b'\n') {
        let (body, end) = match line.strip_suffix(b"\r\n") {
            Some(b) => (b, &b"\r\n"[..]),
            None => match line.strip_suffix(b"\n") {
                Some(b) => (b, &b"\n"[..]),
                None => (line, &b""[..]),
            },
        };
        let label = match body {
            b"<<<<<<< ours" => Some(("<<<<<<<", labels.ours)),
            b"||||||| original" => Some(("|||||||", labels.base)),
            b">>>>>>> theirs" => Some((">>>>>>>", labels.theirs)),
            _ => None,
        };
        match label {
            Some((marker, name)) => {
                out.extend_from_slice(marker.as_bytes());
                if !name.is_empty() {
                    out.push(b' ');
                    out.extend_from_slice(name.as_bytes());
                }
                out.extend_from_slice(end);
            }
            None => out.extend_from_slice(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Labels<'static> = Labels { ours: "HEAD", base: "base", theirs: "topic" };

    fn text(m: FileMerge) -> (bool, String) {
        match m {
            FileMerge::Clean(b) => (true, String::from_utf8(b).unwrap()),
            FileMerge::Conflict(b) => (false, String::from_utf8(b).unwrap()),
            FileMerge::Binary => panic!("binary"),
        }
    }

    #[test]
    fn edits_far_apart_merge_and_overlapping_ones_conflict_around_the_hunk_only() {
        let base = "1\n2\n3\n4\n5\n6\n7\n";
        let (clean, out) = text(merge_file(base.as_ref(), b"one\n2\n3\n4\n5\n6\n7\n", b"1\n2\n3\n4\n5\n6\nseven\n", &L));
        assert!(clean);
        assert_eq!(out, "one\n2\n3\n4\n5\n6\nseven\n");
        let (clean, out) = text(merge_file(base.as_ref(), b"1\n2\n3\nfour\n5\n6\n7\n", b"1\n2\n3\nFOUR\n5\n6\n7\n", &L));
        assert!(!clean);
        assert_eq!(out, "1\n2\n3\n<<<<<<< HEAD\nfour\n||||||| base\n4\n=======\nFOUR\n>>>>>>> topic\n5\n6\n7\n");
        // The same change on both sides is taken once.
        let (clean, out) = text(merge_file(base.as_ref(), b"1\nX\n3\n4\n5\n6\n7\n", b"1\nX\n3\n4\n5\n6\n7\n", &L));
        assert!(clean && out == "1\nX\n3\n4\n5\n6\n7\n");
        // Both appending different lines conflicts (as in git).
        assert!(!text(merge_file(b"a\n", b"a\nb\n", b"a\nc\n", &L)).0);
    }

    #[test]
    fn binary_content_is_not_merged_and_marker_lines_keep_diffys_labels() {
        assert_eq!(merge_file(b"a\n", b"a\0b", b"a\nc\n", &L), FileMerge::Binary);
        assert!(is_binary(b"\0") && !is_binary(b"text") && !is_binary(&[b'a'; 9000]));
        let mut late_nul = vec![b'a'; BINARY_SNIFF_BYTES];
        late_nul.push(0);
        assert!(!is_binary(&late_nul), "git looks at the first 8000 bytes only");
        let (clean, out) = text(merge_file(b"x\n", b"<<<<<<< mine\ny\n", b"z\n", &L));
        assert!(!clean);
        assert!(out.contains("<<<<<<< ours\n"), "{out}");
    }

    #[test]
    fn relabel_touches_marker_lines_only_and_keeps_crlf() {
        let t = b"<<<<<<< ours\r\na\r\n||||||| original\r\n=======\r\n>>>>>>> theirs\r\n<<<<<<< ours x\n";
        let out = relabel(t, &Labels { ours: "HEAD", base: "", theirs: "b" });
        assert_eq!(out, b"<<<<<<< HEAD\r\na\r\n|||||||\r\n=======\r\n>>>>>>> b\r\n<<<<<<< ours x\n");
    }
}
