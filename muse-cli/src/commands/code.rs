//! `muse code …`: code-oriented commands (`muse code add` = `muse add`).

use clap::Subcommand;

use super::add;
use crate::context::CommandContext;
use crate::error::CmdResult;

/// The subcommands of `muse code`.
#[derive(Subcommand, Debug)]
pub enum CodeCommand {
    /// Same as `muse add`.
    Add(add::AddArgs),
}

/// Runs `muse code <cmd>`.
pub fn run(cmd: CodeCommand, ctx: &CommandContext) -> CmdResult {
    match cmd {
        CodeCommand::Add(a) => add::run(a, ctx),
    }
}
