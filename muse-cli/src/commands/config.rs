//! `muse config`: read and write `.muse/config.toml` (git's `config`).

use std::io::Write;

use clap::Args;
use serde_json::json;

use crate::context::CommandContext;
use crate::error::{CmdResult, Fail, EXIT_OK, EXIT_USER};
use crate::ui::{out, print_json};

/// Arguments of `muse config`.
#[derive(Args, Debug)]
#[command(after_help = config_keys_help())]
pub struct ConfigArgs {
    /// The setting, `section.name` (for example `core.fsmonitor`).
    key: Option<String>,
    /// The new value; without it, print the current one (exit 1 when unset).
    value: Option<String>,
    /// Remove the setting (back to its default).
    #[arg(long, conflicts_with_all = ["value", "list"])]
    unset: bool,
    /// List every setting in the file as `section.name=value`.
    #[arg(short, long, conflicts_with_all = ["key", "value"])]
    list: bool,
    /// Print machine-readable JSON (`{"key": ..., "value": ...}`, or
    /// `{"settings": {...}}` with --list).
    #[arg(long)]
    json: bool,
}

/// The known keys and what they mean, for `muse config --help`.
fn config_keys_help() -> String {
    let mut s = String::from("Settings:\n");
    for (k, what) in muse_core::config::KEYS {
        s.push_str(&format!("  {k:<22} {what}\n"));
    }
    s
}

/// Runs `muse config`.
pub fn run(a: ConfigArgs, ctx: &CommandContext) -> CmdResult {
    // Found without reading config.toml: `muse config` must be able to fix
    // (or show) a file that every other command refuses.
    let _ = ctx;
    let root = &muse_core::repo::find_repo(None)?;
    if a.list {
        let all = muse_core::config::list(root)?;
        if a.json {
            let map: serde_json::Map<String, serde_json::Value> = all.into_iter().map(|(k, v)| (k, json!(v))).collect();
            return print_json(&json!({ "settings": map }));
        }
        let mut o = out();
        for (k, v) in all {
            writeln!(o, "{k}={v}")?;
        }
        return Ok(EXIT_OK);
    }
    let Some(key) = a.key else {
        return Err(Fail(EXIT_USER, "usage: muse config KEY [VALUE] | --unset KEY | --list".into()));
    };
    if a.unset {
        muse_core::config::set(root, &key, None)?;
        return Ok(EXIT_OK);
    }
    if let Some(v) = a.value {
        muse_core::config::set(root, &key, Some(&v))?;
        if a.json {
            return print_json(&json!({"key": key, "value": v}));
        }
        return Ok(EXIT_OK);
    }
    let v = muse_core::config::get(root, &key)?;
    if a.json {
        print_json(&json!({"key": key, "value": v}))?;
    } else if let Some(v) = &v {
        println!("{v}");
    }
    Ok(if v.is_some() { EXIT_OK } else { EXIT_USER })
}
