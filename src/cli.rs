//! Command-line interface: argument parsing and dispatch to each job.
//!
//! Exit codes: 0 ok, 1 findings or failed checks, 2 usage or runtime error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::apply::cli as apply_cli;
use crate::{audit, guard};

#[derive(Debug, Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Harden a fresh server safely, and keep brute force out",
    after_long_help = "Exit status: 0 ok, 1 findings or failed checks, 2 usage or runtime error.\n\n\
Files: /etc/portcullis/portcullis.toml (the profile, written by `portcullis init`), \
/var/lib/portcullis (apply's transactions and backups), /var/lib/portcullis-guard (the ban \
daemon's state), /run/portcullis/guard.sock (its control socket).\n\n\
Documentation: /usr/share/doc/portcullis (audit.md, apply.md, guard.md)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check this server (or a mounted root) against the hardening guides.
    Audit(audit::cli::AuditArgs),
    /// Show what apply would change, step by step, with diffs (nothing is changed).
    Plan(apply_cli::PlanArgs),
    /// Enforce the profile in one transaction, with backups and an automatic revert unless confirmed.
    Apply(apply_cli::ApplyArgs),
    /// Keep the changes of an apply that awaits confirmation (disarms the automatic revert).
    Confirm(apply_cli::ConfirmArgs),
    /// Undo a transaction: files restored byte for byte, created files removed, services reloaded.
    Rollback(apply_cli::RollbackArgs),
    /// List the transactions.
    History(apply_cli::HistoryArgs),
    /// Write a starter profile filled from this host.
    Init(apply_cli::InitArgs),
    /// The fail2ban-compatible ban daemon and its tools.
    Guard {
        #[command(subcommand)]
        command: guard::cli::GuardCommand,
    },
    /// Man pages and shell completions from this CLI (for packagers).
    #[command(hide = true)]
    Generate {
        #[command(subcommand)]
        command: crate::generate::GenerateCommand,
    },
}

pub fn run() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(args) => audit::cli::run(&args),
        Command::Guard { command } => guard::cli::run(command),
        Command::Plan(args) => apply_cli::run_plan(&args),
        Command::Apply(args) => apply_cli::run_apply(&args),
        Command::Confirm(args) => apply_cli::run_confirm(&args),
        Command::Rollback(args) => apply_cli::run_rollback(&args),
        Command::History(args) => apply_cli::run_history(&args),
        Command::Init(args) => apply_cli::run_init(&args),
        Command::Generate { command } => crate::generate::run(command),
    }
}
