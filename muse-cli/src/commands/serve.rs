//! `muse serve`: host repositories over HTTP (the `muse-hub` crate, SPEC
//! §13), and administer the hub: `init-repo`, `token`.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use muse_hub::server::{create_token_in, init_repo_in, DEFAULT_LISTEN};
use muse_hub::{FsHub, HubStorage, Scope, ServeConfig, ServeError};

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_INTERNAL, EXIT_OK, EXIT_USER};
use crate::ui::print_json;

/// Arguments of `muse serve`: serve the hub at `--root` on `--listen`, or
/// one of the administration subcommands.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Requests are logged at level info: MUSE_LOG=info muse serve --root DIR.\n\
                  A repository's URL is http://HOST:PORT/OWNER/NAME; clients send their token from\n\
                  $MUSE_TOKEN or the credentials file ($MUSE_CREDENTIALS, else\n\
                  ~/.config/muse/credentials.toml: [[credential]] url = \"...\" token = \"...\")."
)]
pub struct ServeArgs {
    /// The administration subcommand (none: serve).
    #[command(subcommand)]
    cmd: Option<ServeCommand>,
    /// The hub's directory (made if missing): hosted repositories and
    /// the hub's metadata in DIR/.hub/.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Address to listen on, HOST:PORT (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_LISTEN)]
    listen: String,
    /// Print the address served as JSON (`{"url": ..., "root": ...}`).
    #[arg(long)]
    json: bool,
    /// The scale-out tier's services (none: the embedded tier).
    #[command(flatten)]
    tier: TierArgs,
}

/// Where the hub keeps its data. With none of these set, the embedded
/// tier: hosted repositories are muse repositories under `--root`. With
/// `--database-url` (or `$MUSE_HUB_DATABASE_URL`), the scale-out tier:
/// refs and metadata in PostgreSQL, blobs, records and uploads in an
/// S3-compatible bucket, so several `muse serve` processes given the same
/// settings share one hub (`--root` then holds only per-process scratch
/// state and the upload-URL secret). The S3 keys are read from
/// `$AWS_ACCESS_KEY_ID` / `$AWS_SECRET_ACCESS_KEY` only (a secret on a
/// command line is visible to every user of the machine);
/// `scripts/hub-services.sh start` prints every variable.
#[derive(Args, Debug, Clone)]
pub struct TierArgs {
    /// PostgreSQL URL of the scale-out tier, postgres://USER:PASSWORD@HOST:PORT/DB.
    #[arg(long = "database-url", env = "MUSE_HUB_DATABASE_URL", value_name = "URL", hide_env_values = true)]
    database_url: Option<String>,
    /// S3 endpoint of the scale-out tier, e.g. http://127.0.0.1:3900.
    #[arg(long = "s3-endpoint", env = "MUSE_HUB_S3_ENDPOINT", value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 bucket of the scale-out tier.
    #[arg(long = "s3-bucket", env = "MUSE_HUB_S3_BUCKET", value_name = "NAME")]
    s3_bucket: Option<String>,
    /// S3 region of the scale-out tier (Garage's: garage).
    #[arg(long = "aws-region", env = "AWS_REGION", value_name = "REGION")]
    region: Option<String>,
}

/// The subcommands of `muse serve`.
#[derive(Subcommand, Debug)]
pub enum ServeCommand {
    /// Create a hosted repository OWNER/NAME (private unless --public).
    InitRepo(InitRepoArgs),
    /// Make a token for a hosted repository; the token is printed on the
    /// last line (the hub keeps only its SHA-256).
    Token(TokenArgs),
}

/// Arguments of `muse serve init-repo`.
#[derive(Args, Debug)]
pub struct InitRepoArgs {
    /// The hub's directory.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// The repository, OWNER/NAME (letters, digits, '.', '_', '-').
    slug: String,
    /// Anyone may clone and fetch it without a token.
    #[arg(long)]
    public: bool,
    /// Print machine-readable JSON.
    #[arg(long)]
    json: bool,
    /// The scale-out tier's services (none: the embedded tier).
    #[command(flatten)]
    tier: TierArgs,
}

/// Arguments of `muse serve token`.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The hub's directory.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// The repository, OWNER/NAME.
    #[arg(long, value_name = "OWNER/NAME")]
    repo: String,
    /// What the token allows: read (refs, clone, fetch) or write (also push).
    #[arg(long, value_enum)]
    scope: ScopeArg,
    /// Print machine-readable JSON (`{"repo", "scope", "token"}`).
    #[arg(long)]
    json: bool,
    /// The scale-out tier's services (none: the embedded tier).
    #[command(flatten)]
    tier: TierArgs,
}

/// A token scope on the command line.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ScopeArg {
    /// Refs, clone, fetch.
    Read,
    /// Read, and push.
    Write,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Scope {
        match s {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Write => Scope::Write,
        }
    }
}

/// The hub's storage: the scale-out tier ([`muse_hub::scaleout::ScaleOutHub`])
/// when a database URL is given, else the embedded tier ([`FsHub`]) at `root`.
fn storage_for(root: &std::path::Path, tier: &TierArgs) -> Result<Arc<dyn HubStorage>, Fail> {
    let Some(database_url) = tier.database_url.clone().filter(|u| !u.trim().is_empty()) else {
        return Ok(Arc::new(FsHub::open(root)?));
    };
    let need = |v: &Option<String>, what: &str| -> Result<String, Fail> {
        v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
            Fail(EXIT_USER, format!("the scale-out tier (a database URL is set) also needs {what}"))
        })
    };
    let env = |k: &str| -> Result<String, Fail> {
        std::env::var(k)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| Fail(EXIT_USER, format!("the scale-out tier (a database URL is set) also needs ${k}")))
    };
    let cfg = muse_hub::scaleout::ScaleOutConfig {
        database_url,
        s3_endpoint: need(&tier.s3_endpoint, "--s3-endpoint or $MUSE_HUB_S3_ENDPOINT")?,
        s3_bucket: need(&tier.s3_bucket, "--s3-bucket or $MUSE_HUB_S3_BUCKET")?,
        access_key_id: env("AWS_ACCESS_KEY_ID")?,
        secret_access_key: env("AWS_SECRET_ACCESS_KEY")?,
        region: need(&tier.region, "--aws-region or $AWS_REGION")?,
        scratch_dir: root.join("scratch"),
    };
    Ok(Arc::new(muse_hub::scaleout::ScaleOutHub::connect(&cfg)?))
}

/// Runs `muse serve`.
pub fn run(a: ServeArgs, ctx: &CommandContext) -> CmdResult {
    let _ = ctx;
    match a.cmd {
        Some(ServeCommand::InitRepo(i)) => run_init_repo(i),
        Some(ServeCommand::Token(t)) => run_token(t),
        None => run_serve(a.root, &a.listen, a.json, &a.tier),
    }
}

fn run_init_repo(a: InitRepoArgs) -> CmdResult {
    let storage = storage_for(&a.root, &a.tier)?;
    let info = init_repo_in(storage.as_ref(), &a.slug, a.public)?;
    let visibility = if info.public { "public" } else { "private" };
    if a.json {
        return print_json(&json!({"repo": a.slug, "public": info.public, "root": a.root}));
    }
    println!("Created {visibility} repository {} in {}", a.slug, a.root.display());
    Ok(EXIT_OK)
}

fn run_token(a: TokenArgs) -> CmdResult {
    let storage = storage_for(&a.root, &a.tier)?;
    let scope: Scope = a.scope.into();
    let token = create_token_in(storage.as_ref(), &a.repo, scope)?;
    let scope_name = match scope {
        Scope::Read => "read",
        Scope::Write => "write",
    };
    if a.json {
        return print_json(&json!({"repo": a.repo, "scope": scope_name, "token": token}));
    }
    println!("New {scope_name} token for {} (shown only this once; the hub keeps only its SHA-256):", a.repo);
    println!("{token}");
    Ok(EXIT_OK)
}

/// `HOST:PORT` as a socket address (the first the name resolves to).
fn listen_addr(s: &str) -> Result<SocketAddr, Fail> {
    let bad = |why: String| Fail(EXIT_USER, format!("--listen {s:?}: {why} (expected HOST:PORT, e.g. {DEFAULT_LISTEN})"));
    let mut addrs = s.to_socket_addrs().map_err(|e| bad(e.to_string()))?;
    addrs.next().ok_or_else(|| bad("the name resolves to no address".into()))
}

fn run_serve(root: Option<PathBuf>, listen: &str, as_json: bool, tier: &TierArgs) -> CmdResult {
    let Some(root) = root else {
        return Err(Fail(EXIT_USER, "usage: muse serve --root DIR [--listen HOST:PORT] (or muse serve init-repo|token)".into()));
    };
    let addr = listen_addr(listen)?;
    let storage = storage_for(&root, tier)?;
    let cfg = ServeConfig::new(root.clone(), addr);
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    let shown_root = root.canonicalize().unwrap_or(root);
    let announcer = std::thread::spawn(move || {
        if let Ok(bound) = rx.recv() {
            let url = format!("http://{bound}");
            let mut o = std::io::stdout().lock();
            let _ = if as_json {
                writeln!(o, "{}", json!({"url": url, "root": shown_root}))
            } else {
                writeln!(o, "Serving {} on {url} (Ctrl-C to stop)", shown_root.display())
            };
            let _ = o.flush();
        }
    });
    let result = muse_hub::serve_blocking(cfg, storage, Some(tx));
    let _ = announcer.join();
    match result {
        Ok(()) => Ok(EXIT_OK),
        Err(e @ ServeError::Bind { .. }) => Err(Fail(EXIT_USER, e.to_string())),
        Err(ServeError::Core(e)) => Err(e.into()),
        Err(e @ ServeError::Io(_)) => Err(Fail(EXIT_INTERNAL, e.to_string())),
    }
}
