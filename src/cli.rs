//! Command-line interface: argument parsing and dispatch to each job.
//!
//! Exit codes: 0 ok, 1 findings or failed checks, 2 usage or runtime error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{audit, guard};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Harden a fresh server safely, and keep brute force out"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check this server (or a mounted root) against the hardening guides.
    Audit(audit::cli::AuditArgs),
    /// The fail2ban-compatible ban daemon and its tools.
    Guard {
        #[command(subcommand)]
        command: guard::cli::GuardCommand,
    },
}

pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(args) => audit::cli::run(&args),
        Command::Guard { command } => guard::cli::run(command),
    }
}
