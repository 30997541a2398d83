//! `portcullis guard ...` arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::config::{self, Backend};
use super::control::{self, Request};
use super::daemon::{self, RunOptions};
use super::duration::Seconds;
use super::status_text;
use super::test_cmd::{self, TestArgs};

#[derive(Debug, Subcommand)]
pub enum GuardCommand {
    /// Match a log file against a filter, like fail2ban-regex (also the matcher's benchmark).
    Test(TestArgs),
    /// Run the ban daemon in the foreground (systemd starts it as portcullis-guard.service).
    Run(RunArgs),
    /// Show the jails, or one jail like `fail2ban-client status sshd`.
    Status(StatusArgs),
    /// Ban an address in a jail now.
    Ban(BanArgs),
    /// Lift the ban on an address (or a CIDR range), or on every address with --all.
    Unban(UnbanArgs),
    /// Re-read the config and put the firewall table back (after `nft flush ruleset`).
    Reload(ClientArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Config file (its [guard] section).
    #[arg(long, default_value = config::DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// Directory of the state database (overrides [guard] state_dir).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Control socket path (overrides [guard] socket).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Ban backend (overrides [guard] backend).
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// Run the enabled jails of this fail2ban configuration (e.g. /etc/fail2ban) as they stand.
    #[arg(long)]
    pub fail2ban: Option<PathBuf>,
    /// Print every jail as it will run, then stop: exit 2 if any jail cannot run (fail2ban-client -t).
    #[arg(long)]
    pub check: bool,
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    match s {
        "nftables" => Ok(Backend::Nftables),
        "dry-run" => Ok(Backend::DryRun),
        _ => Err("use nftables or dry-run".into()),
    }
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Control socket of the daemon (default: [guard] socket from the config, else /run/portcullis/guard.sock).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Config file to read the socket path from.
    #[arg(long, default_value = config::DEFAULT_CONFIG)]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A jail name; without it, the list of jails.
    pub jail: Option<String>,
    /// Print JSON instead of the fail2ban-client tree.
    #[arg(long)]
    pub json: bool,
    /// Leave out the banned address list (fail2ban's `status sshd short`).
    #[arg(long)]
    pub short: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct BanArgs {
    pub jail: String,
    pub ip: String,
    /// Ban length (e.g. 10m, 1h, 2d); default: the jail's bantime with its increment.
    #[arg(long = "for", value_parser = |s: &str| Seconds::parse(s).map(|d| d.0 as u64))]
    pub duration: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct UnbanArgs {
    /// Address or CIDR range.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ip: Option<String>,
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(command: GuardCommand) -> anyhow::Result<ExitCode> {
    match command {
        GuardCommand::Test(args) => test_cmd::run(&args),
        GuardCommand::Run(a) => daemon::run(RunOptions {
            explicit_config: a.config.as_os_str() != config::DEFAULT_CONFIG,
            config: a.config,
            state_dir: a.state_dir,
            socket: a.socket,
            backend: a.backend,
            fail2ban: a.fail2ban,
            check: a.check,
        }),
        GuardCommand::Status(a) => {
            let resp = call(
                &a.client,
                &Request::Status {
                    jail: a.jail.clone(),
                    short: a.short,
                },
            )?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&resp)?);
            } else if a.jail.is_some() {
                print!("{}", status_text::jail(&resp));
            } else {
                print!("{}", status_text::jails(&resp));
            }
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::Ban(a) => {
            let resp = call(
                &a.client,
                &Request::Ban {
                    jail: a.jail,
                    ip: a.ip,
                    seconds: a.duration,
                },
            )?;
            println!(
                "{} banned until {}",
                resp["banned"].as_str().unwrap_or("?"),
                resp["until"].as_str().unwrap_or("?")
            );
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::Unban(a) => {
            let resp = call(
                &a.client,
                &Request::Unban {
                    ip: a.ip,
                    all: a.all,
                },
            )?;
            println!("{}", resp["unbanned"]);
            Ok(ExitCode::SUCCESS)
        }
        GuardCommand::Reload(c) => {
            let resp = call(&c, &Request::Reload {})?;
            for note in resp["notes"].as_array().into_iter().flatten() {
                eprintln!("note: {}", note.as_str().unwrap_or_default());
            }
            println!("OK");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Send a request; an error answer becomes an error (exit 2) with the daemon's message.
fn call(c: &ClientArgs, req: &Request) -> anyhow::Result<serde_json::Value> {
    let socket = match &c.socket {
        Some(s) => s.clone(),
        None => {
            let explicit = c.config.as_os_str() != config::DEFAULT_CONFIG;
            config::load(&c.config, explicit)?.socket
        }
    };
    let resp = control::call(&socket, req)?;
    if resp.ok {
        Ok(resp.data)
    } else {
        anyhow::bail!(
            "{}",
            resp.error.unwrap_or_else(|| "the daemon refused".into())
        )
    }
}
