//! Identifiers: content hashes of blobs, snapshots and commits (SPEC §2).
//!
//! Every ID is the string `"sha256:"` followed by 64 lowercase hex digits
//! (71 characters). [`validate_id`] is the gate every ID passes before it is
//! allowed to become part of a filesystem path: anything else (another
//! prefix, upper case, `/`, `..`, NUL, wrong length) is rejected with
//! [`Error::InvalidId`].

use std::io::Read;

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// The algorithm prefix of every ID, including the colon.
pub const ID_PREFIX: &str = "sha256:";
/// The algorithm name (also the object shard directory name).
pub const ALGORITHM: &str = "sha256";
/// Length of an ID string: `"sha256:"` + 64 hex digits.
pub const ID_LEN: usize = 71;
/// Length of the hex part of an ID.
pub const HEX_LEN: usize = 64;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A raw SHA-256 digest: the 32 bytes an ID spells in hex.
pub type Digest = [u8; 32];

/// Formats a 32-byte digest as an ID string (`"sha256:<hex>"`).
pub fn id_from_digest(digest: &[u8]) -> String {
    let mut v = Vec::with_capacity(ID_PREFIX.len() + digest.len() * 2);
    v.extend_from_slice(ID_PREFIX.as_bytes());
    for &b in digest {
        v.push(HEX[(b >> 4) as usize]);
        v.push(HEX[(b & 15) as usize]);
    }
    String::from_utf8(v).expect("an ID is ASCII")
}

/// Formats `digest` as an ID into `buf` and returns it as a `&str`, without
/// allocating (for callers that copy the ID elsewhere at once).
pub fn write_id<'b>(digest: &Digest, buf: &'b mut [u8; ID_LEN]) -> &'b str {
    buf[..ID_PREFIX.len()].copy_from_slice(ID_PREFIX.as_bytes());
    for (i, &b) in digest.iter().enumerate() {
        buf[ID_PREFIX.len() + 2 * i] = HEX[(b >> 4) as usize];
        buf[ID_PREFIX.len() + 2 * i + 1] = HEX[(b & 15) as usize];
    }
    std::str::from_utf8(buf).expect("an ID is ASCII")
}

/// The digest spelled by `id`, or `None` unless `id` is `"sha256:"` + 64
/// lowercase hex digits (the rule of [`validate_id`]).
pub fn digest_from_id(id: &str) -> Option<Digest> {
    let hex = id.as_bytes().strip_prefix(ID_PREFIX.as_bytes())?;
    digest_from_hex(hex.try_into().ok()?)
}

/// Value of each byte as a lowercase hex digit, `0xff` for anything else.
const UNHEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The digest spelled by 64 lowercase hex digits, or `None` (uppercase and
/// any other byte are refused, as by [`validate_id`]).
pub fn digest_from_hex(hex: &[u8; HEX_LEN]) -> Option<Digest> {
    let mut d = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in d.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (UNHEX[pair[0] as usize], UNHEX[pair[1] as usize]);
        bad |= hi | lo;
        *o = hi << 4 | lo;
    }
    // A valid digit is < 16: one invalid byte sets the high bits.
    (bad < 16).then_some(d)
}

/// Checks that `id` is `"sha256:"` + 64 lowercase hex digits and returns the
/// hex part.
///
/// # Errors
/// [`Error::InvalidId`] naming what is wrong (prefix, length, character).
pub fn validate_id(id: &str) -> Result<&str> {
    let bad = |reason| Error::InvalidId { id: truncate(id), reason };
    let hex = id.strip_prefix(ID_PREFIX).ok_or_else(|| bad("must start with \"sha256:\""))?;
    if hex.len() != HEX_LEN {
        return Err(bad("must have exactly 64 hex digits after \"sha256:\""));
    }
    if !is_hex64(hex.as_bytes()) {
        return Err(bad("hex digits must be 0-9 or lowercase a-f"));
    }
    Ok(hex)
}

/// Returns true when `id` passes [`validate_id`].
pub fn is_valid_id(id: &str) -> bool {
    validate_id(id).is_ok()
}

/// Checks that `hex` is exactly 64 lowercase hex digits (an ID without its
/// prefix, as used in file names).
pub fn is_hex64(hex: &[u8]) -> bool {
    hex.try_into().ok().and_then(digest_from_hex).is_some()
}

fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}

/// Splits a valid ID into `("sha256", hex)`.
///
/// # Errors
/// [`Error::InvalidId`] if `id` is not a valid ID.
pub fn split_id(id: &str) -> Result<(&'static str, &str)> {
    Ok((ALGORITHM, validate_id(id)?))
}

/// The blob ID of `content`: sha256 of the raw bytes (SPEC §2).
pub fn blob_id(content: &[u8]) -> String {
    id_from_digest(&Sha256::digest(content))
}

/// The blob ID of everything `reader` yields, read in 64 KiB chunks (never
/// buffering the whole input). Returns the ID and the number of bytes read.
///
/// # Errors
/// The reader's I/O error.
pub fn blob_id_reader<R: Read>(reader: R) -> std::io::Result<(String, u64)> {
    let (digest, n) = blob_digest_reader(reader)?;
    Ok((id_from_digest(&digest), n))
}

/// [`blob_id_reader`] returning the raw digest instead of the ID string.
///
/// # Errors
/// The reader's I/O errors (`Interrupted` is retried).
pub fn blob_digest_reader<R: Read>(mut reader: R) -> std::io::Result<(Digest, u64)> {
    let mut buf = vec![0u8; 64 * 1024];
    hash_stream(&mut reader, &mut buf, &mut |_| Ok(())).map_err(StreamError::into_inner)
}

/// Which side of [`hash_stream`] failed.
#[derive(Debug)]
pub enum StreamError {
    /// Reading the source failed.
    Read(std::io::Error),
    /// The sink (e.g. the copy's destination) failed.
    Sink(std::io::Error),
}

impl StreamError {
    /// The I/O error, whichever side it came from.
    pub fn into_inner(self) -> std::io::Error {
        match self {
            StreamError::Read(e) | StreamError::Sink(e) => e,
        }
    }
}

/// The one hashing loop: reads `reader` to its end through `buf`, hashing
/// every byte with sha256 (a blob's digest, SPEC §2) and handing each chunk
/// to `sink` (a copy, or nothing). Returns the digest and the byte count.
/// `Interrupted` reads are retried.
///
/// # Errors
/// [`StreamError::Read`] / [`StreamError::Sink`].
pub fn hash_stream<R: Read + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
    sink: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
) -> std::result::Result<(Digest, u64), StreamError> {
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Read(e)),
        };
        hasher.update(&buf[..n]);
        sink(&buf[..n]).map_err(StreamError::Sink)?;
        total += n as u64;
    }
    Ok((hasher.finalize().into(), total))
}

/// `fake_id(label)`: sha256 of the UTF-8 label, as an ID. A deterministic
/// helper for tests and fixtures (SPEC §2).
pub fn fake_id(label: &str) -> String {
    blob_id(label.as_bytes())
}

/// The snapshot ID of a manifest: sha256 of
/// `NUL.join(sorted(path + NUL + blob_id))` over all entries (SPEC §2).
///
/// The iterator may yield entries in any order. Sorting by path is the same
/// as sorting the `path NUL blob_id` strings because paths contain no NUL.
pub fn hash_snapshot<'a, I>(entries: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(&str, &str)> = entries.into_iter().collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()).then(a.1.cmp(b.1)));
    hash_sorted_snapshot(pairs.into_iter())
}

/// [`hash_snapshot`] for entries already sorted by path (e.g. a `BTreeMap`),
/// skipping the sort.
pub fn hash_sorted_snapshot<'a, I>(entries: I) -> String
where
    I: Iterator<Item = (&'a str, &'a str)>,
{
    // The bytes are gathered into blocks of [`HASH_CHUNK`] before they
    // reach the hasher: three small `update` calls per entry cost more in
    // buffer copies than the SHA-256 rounds themselves.
    let mut hasher = Sha256::new();
    let mut buf: Vec<u8> = Vec::with_capacity(HASH_CHUNK + 4096);
    for (i, (path, oid)) in entries.enumerate() {
        if i > 0 {
            buf.push(0);
        }
        buf.extend_from_slice(path.as_bytes());
        buf.push(0);
        buf.extend_from_slice(oid.as_bytes());
        if buf.len() >= HASH_CHUNK {
            hasher.update(&buf);
            buf.clear();
        }
    }
    hasher.update(&buf);
    id_from_digest(&hasher.finalize())
}

/// Bytes [`hash_sorted_snapshot`] gathers before each hasher update.
const HASH_CHUNK: usize = 32 << 10;

/// The commit ID: sha256 of `NUL.join([NUL.join(sorted(parent_ids)),
/// snapshot_id, message, committed_at_iso, author])` (SPEC §2).
///
/// `committed_at_iso` must be exactly Python's `datetime.isoformat()` of the
/// commit time. `author` is `""` when absent.
pub fn hash_commit(
    parent_ids: &[&str],
    snapshot_id: &str,
    message: &str,
    committed_at_iso: &str,
    author: &str,
) -> String {
    let mut parents: Vec<&str> = parent_ids.to_vec();
    parents.sort_unstable();
    let mut hasher = Sha256::new();
    for (i, p) in parents.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(p.as_bytes());
    }
    for field in [snapshot_id, message, committed_at_iso, author] {
        hasher.update([0u8]);
        hasher.update(field.as_bytes());
    }
    id_from_digest(&hasher.finalize())
}

/// A 32-byte SHA-256 object ID, parsed once from its `"sha256:<64 hex>"`
/// spelling (SPEC §2) and displayed the same way. The typed IDs
/// [`BlobId`], [`CommitId`] and [`SnapshotId`] wrap it, so a commit ID
/// cannot be passed where a blob ID is expected.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub Digest);

impl ObjectId {
    /// Parses `"sha256:" + 64 lowercase hex`.
    ///
    /// # Errors
    /// [`Error::InvalidId`] naming what is wrong (the rule of [`validate_id`]).
    pub fn parse(s: &str) -> Result<ObjectId> {
        validate_id(s)?;
        Ok(ObjectId(digest_from_id(s).expect("validated")))
    }

    /// The ID of `content` hashed as a blob.
    pub fn hash_blob(content: &[u8]) -> ObjectId {
        ObjectId(Sha256::digest(content).into())
    }

    /// The 32 digest bytes.
    pub fn as_bytes(&self) -> &Digest {
        &self.0
    }

    /// The 64 lowercase hex digits (without the `sha256:` prefix).
    pub fn to_hex(&self) -> String {
        self.to_string()[ID_PREFIX.len()..].to_string()
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; ID_LEN];
        f.write_str(write_id(&self.0, &mut buf))
    }
}

impl std::fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

impl std::str::FromStr for ObjectId {
    type Err = Error;
    fn from_str(s: &str) -> Result<ObjectId> {
        ObjectId::parse(s)
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub ObjectId);

        impl $name {
            /// Parses `"sha256:" + 64 lowercase hex`.
            ///
            /// # Errors
            /// [`Error::InvalidId`].
            pub fn parse(s: &str) -> Result<$name> {
                ObjectId::parse(s).map($name)
            }
            /// The untyped object ID.
            pub fn object_id(&self) -> ObjectId {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name> {
                $name::parse(s)
            }
        }

        /// Serialized as its string form (`"sha256:" + 64 hex`).
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        /// Deserialized from its string form, which must parse
        /// ([`Error::InvalidId`] becomes a serde error).
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<$name, D::Error> {
                let s = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// The ID of a blob: sha256 of its raw bytes (SPEC §2).
    BlobId
);
typed_id!(
    /// The ID of a commit record ([`hash_commit`]).
    CommitId
);
typed_id!(
    /// The ID of a snapshot record ([`hash_snapshot`]).
    SnapshotId
);

impl BlobId {
    /// The blob ID of `content`.
    pub fn of(content: &[u8]) -> BlobId {
        BlobId(ObjectId::hash_blob(content))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_and_bad_hex_is_refused() {
        let id = blob_id(b"abc");
        let d = digest_from_id(&id).unwrap();
        assert_eq!(id_from_digest(&d), id);
        let mut buf = [0u8; ID_LEN];
        assert_eq!(write_id(&d, &mut buf), id);
        for bad in [
            id.to_uppercase(),
            id.replace("sha256:", "sha512:"),
            id[..ID_LEN - 1].to_string(),
            format!("{id}0"),
            format!("{}g", &id[..ID_LEN - 1]),
            format!("{}/", &id[..ID_LEN - 1]),
            format!("{}\0", &id[..ID_LEN - 1]),
        ] {
            assert_eq!(digest_from_id(&bad), None, "{bad}");
            assert_eq!(digest_from_id(&bad).is_some(), is_valid_id(&bad));
        }
        // Every byte value in every position: exactly lowercase hex is taken.
        for b in 0..=255u8 {
            let mut hex = [b'0'; HEX_LEN];
            hex[17] = b;
            assert_eq!(digest_from_hex(&hex).is_some(), b.is_ascii_digit() || (b'a'..=b'f').contains(&b), "{b}");
        }
    }

    #[test]
    fn blob_id_of_empty() {
        assert_eq!(
            blob_id(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn validate_rejects_every_malformed_class() {
        let good = blob_id(b"x");
        assert!(validate_id(&good).is_ok());
        let hex = &good[7..];
        for bad in [
            format!("sha1:{hex}"),
            format!("SHA256:{hex}"),
            hex.to_string(),
            format!("sha256:{}", &hex[..63]),
            format!("sha256:{hex}0"),
            format!("sha256:{}", hex.to_uppercase()),
            format!("sha256:{}/{}", &hex[..2], &hex[3..]),
            format!("sha256:..{}", &hex[2..]),
            format!("sha256:{}\0", &hex[..63]),
            String::new(),
        ] {
            let err = validate_id(&bad).unwrap_err();
            assert!(matches!(err, Error::InvalidId { .. }), "{bad:?} → {err}");
        }
    }

    #[test]
    fn hash_snapshot_is_order_independent_and_matches_spec() {
        let a = hash_snapshot([("b.txt", "sha256:2"), ("a.txt", "sha256:1")]);
        let b = hash_snapshot([("a.txt", "sha256:1"), ("b.txt", "sha256:2")]);
        assert_eq!(a, b);
        assert_eq!(a, blob_id(b"a.txt\0sha256:1\0b.txt\0sha256:2"));
        assert_eq!(hash_snapshot([]), blob_id(b""));
    }

    #[test]
    fn hash_commit_matches_spec_layout() {
        let id = hash_commit(&["sha256:b", "sha256:a"], "s", "m", "t", "au");
        assert_eq!(id, blob_id(b"sha256:a\0sha256:b\0s\0m\0t\0au"));
        let root = hash_commit(&[], "s", "m", "t", "");
        assert_eq!(root, blob_id(b"\0s\0m\0t\0"));
    }

    #[test]
    fn reader_hash_equals_slice_hash() {
        let data = vec![7u8; 200_000];
        let (id, n) = blob_id_reader(&data[..]).unwrap();
        assert_eq!(n, 200_000);
        assert_eq!(id, blob_id(&data));
    }
}
