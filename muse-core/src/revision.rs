//! Revisions: the names a user gives a commit (a subset of git's
//! `gitrevisions(7)`), resolved by [`Repository::revparse`].
//!
//! | spelling | meaning |
//! |---|---|
//! | `HEAD`, `@` | HEAD's commit |
//! | `<tag>`, `<branch>` | the commit the tag or branch points at (a tag first, as in git) |
//! | `<remote>/<branch>` | the remote-tracking ref `refs/remotes/<remote>/<branch>` (after tags and branches) |
//! | `sha256:<64 hex>` | that commit (it must be stored) |
//! | `<hex>`, `sha256:<hex>` (at least 4 digits) | the one stored commit whose ID starts so |
//! | `<rev>~<n>` | the n-th first-parent ancestor (`~` = `~1`) |
//! | `<rev>^<n>` | the n-th parent, 1 or 2 (`^` = `^1`, `^0` = the commit) |
//!
//! Suffixes chain (`main~2^2`). A branch wins over a hex prefix, as in git.

use crate::error::{Error, Result};
use crate::ids::{validate_id, ID_PREFIX};
use crate::repository::Repository;

/// Shortest hex prefix [`Repository::revparse`] accepts (git: 4).
pub const MIN_PREFIX: usize = 4;

impl Repository {
    /// Resolves `spec` (see the [module docs](crate::revision)) to a commit ID
    /// (`"sha256:<hex>"`).
    ///
    /// # Errors
    /// [`Error::NotFound`] (`what = "revision"`) for a name that matches
    /// nothing, an unborn HEAD, or a missing parent;
    /// [`Error::InvalidInput`] for an ambiguous prefix or a malformed
    /// suffix; [`Error::InvalidId`].
    pub fn revparse(&self, spec: &str) -> Result<String> {
        let cut = spec.find(['~', '^']).unwrap_or(spec.len());
        let (base, mut rest) = spec.split_at(cut);
        // The whole spelling is checked before any commit is read.
        let mut steps: Vec<(u8, u32)> = Vec::new();
        while !rest.is_empty() {
            let op = rest.as_bytes()[0];
            if op != b'~' && op != b'^' {
                return Err(bad(spec, "only ~<n> and ^<n> may follow a name"));
            }
            rest = &rest[1..];
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let n: u32 = if digits == 0 {
                1
            } else {
                rest[..digits].parse().map_err(|_| bad(spec, "the number after ~ or ^ is too large"))?
            };
            rest = &rest[digits..];
            steps.push((op, n));
        }
        let mut id = self.resolve_base(base, spec)?;
        for (op, n) in steps {
            if op == b'~' {
                for _ in 0..n {
                    id = self.parent(&id, 1, spec)?;
                }
            } else if n > 0 {
                id = self.parent(&id, n, spec)?;
            }
        }
        Ok(id)
    }

    fn resolve_base(&self, base: &str, spec: &str) -> Result<String> {
        let not_found = || Error::NotFound { what: "revision", name: spec.to_string() };
        if base.is_empty() {
            return Err(bad(spec, "a revision needs a name before ~ or ^"));
        }
        if base == "HEAD" || base == "@" {
            return self.head_ids()?.1.ok_or_else(|| Error::NotFound { what: "revision", name: format!("{spec} (HEAD has no commit yet)") });
        }
        if base.len() == ID_PREFIX.len() + 64 && base.starts_with(ID_PREFIX) {
            validate_id(base)?;
            self.find_commit(base).map_err(|e| if matches!(e, Error::NotFound { .. }) { not_found() } else { e })?;
            return Ok(base.to_string());
        }
        if crate::refs::validate_branch_name(base).is_ok() {
            // git's lookup order: refs/tags/<name> before refs/heads/<name>.
            if let Some(c) = self.tag_target(base)? {
                return Ok(c);
            }
            if let Some(c) = self.branch_target(base)? {
                return Ok(c);
            }
            // Then refs/remotes/<name> (git's order: tags, heads, remotes).
            if crate::refs::split_remote_ref(base).is_ok() {
                let wanted = base;
                if let Some((_, c)) = self.store().remote_refs()?.into_iter().find(|(n, _)| n == wanted) {
                    return Ok(c.to_string());
                }
            }
        }
        let hex = base.strip_prefix(ID_PREFIX).unwrap_or(base);
        if hex.len() >= MIN_PREFIX && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            let mut hits: Vec<String> = Vec::new();
            for c in self.store().commit_ids()? {
                let s = c.to_string();
                if s[ID_PREFIX.len()..].starts_with(hex) {
                    hits.push(s);
                }
            }
            if hits.len() > 1 {
                // git's "short object ID is ambiguous" with the candidates.
                hits.sort_unstable();
                let listed: Vec<&str> = hits.iter().take(10).map(|h| &h[ID_PREFIX.len()..ID_PREFIX.len() + 12]).collect();
                let more = if hits.len() > 10 { format!(" and {} more", hits.len() - 10) } else { String::new() };
                return Err(bad(
                    spec,
                    &format!("the short ID is ambiguous (candidates: {}{more}); give more digits", listed.join(", ")),
                ));
            }
            if let Some(h) = hits.pop() {
                return Ok(h);
            }
        }
        Err(not_found())
    }

    /// The `n`-th parent (1 or 2) of commit `id`.
    fn parent(&self, id: &str, n: u32, spec: &str) -> Result<String> {
        let rec = self.find_commit(id)?;
        let p = match n {
            1 => rec.parent_commit_id,
            2 => rec.parent2_commit_id,
            _ => None,
        };
        p.ok_or_else(|| Error::NotFound { what: "revision", name: format!("{spec} (commit {id} has no parent {n})") })
    }
}

fn bad(spec: &str, why: &str) -> Error {
    Error::InvalidInput(format!("invalid revision {spec:?}: {why}"))
}
