//! The PostgreSQL schema `muse_hub`, created at connect (see the module
//! docs of [`super`] for what each table holds).

use muse_core::Result;

use super::Clients;

/// Any constant: the advisory lock that serializes schema creation between
/// servers connecting at the same time (`CREATE … IF NOT EXISTS` alone can
/// still race on the catalog).
const MIGRATION_LOCK: i64 = 0x6d75_7365_6875_6231; // "musehub1"

const SCHEMA: &str = r#"
CREATE SCHEMA IF NOT EXISTS muse_hub;

CREATE TABLE IF NOT EXISTS muse_hub.repos (
    repo_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner       TEXT NOT NULL,
    name        TEXT NOT NULL,
    public      BOOLEAN NOT NULL DEFAULT FALSE,
    head        TEXT NOT NULL DEFAULT 'ref: refs/heads/main',
    stash       BYTEA[] NOT NULL DEFAULT '{}',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (owner, name)
);

CREATE TABLE IF NOT EXISTS muse_hub.tokens (
    repo_id       BIGINT NOT NULL REFERENCES muse_hub.repos ON DELETE CASCADE,
    token_sha256  BYTEA NOT NULL CHECK (length(token_sha256) = 32),
    scope         TEXT NOT NULL CHECK (scope IN ('read', 'write')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, token_sha256)
);

CREATE TABLE IF NOT EXISTS muse_hub.refs (
    repo_id  BIGINT NOT NULL REFERENCES muse_hub.repos ON DELETE CASCADE,
    kind     "char" NOT NULL,
    name     TEXT NOT NULL,
    target   BYTEA NOT NULL CHECK (length(target) = 32),
    PRIMARY KEY (repo_id, kind, name)
);

CREATE TABLE IF NOT EXISTS muse_hub.packs (
    pack_id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    repo_id     BIGINT NOT NULL REFERENCES muse_hub.repos ON DELETE CASCADE,
    key         TEXT NOT NULL UNIQUE,
    size        BIGINT NOT NULL,
    entries     INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The pack index. No foreign keys: rows are inserted in bulk in the
-- transaction that inserts their pack row.
CREATE TABLE IF NOT EXISTS muse_hub.objects (
    repo_id  BIGINT NOT NULL,
    id       BYTEA NOT NULL,
    kind     "char" NOT NULL,
    pack_id  BIGINT NOT NULL,
    off      BIGINT NOT NULL,
    len      INTEGER NOT NULL,
    base     BYTEA,
    depth    SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (repo_id, id, kind)
);
CREATE INDEX IF NOT EXISTS objects_by_pack ON muse_hub.objects (pack_id);
"#;

/// Creates the schema when missing (idempotent; safe with other servers
/// connecting at the same time).
pub(crate) async fn migrate(c: &Clients) -> Result<()> {
    let mut db = c.client().await?;
    let tx = db.transaction().await.map_err(|e| c.pg(e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| c.pg(e))?;
    tx.batch_execute(SCHEMA).await.map_err(|e| c.pg(e))?;
    tx.commit().await.map_err(|e| c.pg(e))?;
    Ok(())
}
