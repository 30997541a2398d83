//! `portcullis guard test`: the fail2ban-regex equivalent (work in progress).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Log file to read, or `-` for standard input.
    pub file: String,
}

pub fn run(_args: &TestArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("guard test is being built")
}
