//! `portcullis guard ...` arguments.

use std::process::ExitCode;

use clap::Subcommand;

use super::test_cmd::{self, TestArgs};

#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Match a log file against a filter, like fail2ban-regex (also the matcher's benchmark).
    Test(TestArgs),
}

pub fn run(command: GuardCommand) -> anyhow::Result<ExitCode> {
    match command {
        GuardCommand::Test(args) => test_cmd::run(&args),
    }
}
