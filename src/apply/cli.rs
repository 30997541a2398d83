//! The `plan`, `apply`, `confirm`, `rollback`, `history` and `init` commands: argument parsing and wiring.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use clap::Args;

use crate::host::root::Root;
use crate::host::snapshot::{self, Snapshot};
use crate::profile::Profile;

use super::change::KeepOpen;
use super::exec::{self, Ctx};
use super::lock::StateLock;
use super::plan;
use super::txn::{Status, Txn};
use super::{confirm, lockout};

pub use super::commands::{run_confirm, run_history, run_init, run_rollback};

pub const DEFAULT_PROFILE: &str = "/etc/portcullis/portcullis.toml";
pub const DEFAULT_STATE: &str = "/var/lib/portcullis";
const DEFAULT_CONFIRM: &str = "5m";

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The profile to enforce.
    #[arg(long, default_value = DEFAULT_PROFILE)]
    pub profile: PathBuf,
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// Where transactions (backups and manifests) are kept.
    #[arg(long, default_value = DEFAULT_STATE)]
    pub state_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// `{"changes": [{"step","kind","path"|"command","diff"}], "notes": [...]}`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub state: StateArgs,
    /// Do not ask before changing anything.
    #[arg(long)]
    pub yes: bool,
    /// Roll everything back unless `portcullis confirm` runs within this time (e.g. 90s, 5m). Implied (5m)
    /// when running inside an SSH session.
    #[arg(long, value_name = "DURATION")]
    pub confirm_timeout: Option<String>,
    /// Make the change permanent at once, even over SSH (no automatic revert).
    #[arg(long, conflicts_with = "confirm_timeout")]
    pub no_confirm: bool,
}

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// The transaction (default: the one awaiting confirmation).
    pub txn: Option<String>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// The transaction (default: the last one still in effect).
    pub txn: Option<String>,
    /// Revert only if TXN is still awaiting confirmation (what the armed timer runs).
    #[arg(long, value_name = "TXN", conflicts_with = "txn")]
    pub if_unconfirmed: Option<String>,
    /// Wait this many seconds first (the detached revert without systemd).
    #[arg(long, hide = true, requires = "if_unconfirmed")]
    pub after: Option<u64>,
    /// Revert whatever still awaits confirmation, early at boot (what portcullis-revert-at-boot.service runs).
    #[arg(long, conflicts_with_all = ["txn", "if_unconfirmed"])]
    pub at_boot: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Write the profile here (refuses to overwrite); default: standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

pub(super) fn live_root() -> Root {
    Root::new(Path::new("/"))
}

pub(super) fn load_profile(path: &Path) -> anyhow::Result<Profile> {
    Profile::load(path).map_err(|e| anyhow!("{e}"))
}

/// The profile and its text, so that apply can keep the very text it applied with the transaction.
fn load_profile_text(path: &Path) -> anyhow::Result<(Profile, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow!("{}: cannot read profile: {e}", path.display()))?;
    let profile = Profile::parse(&text, &path.display().to_string()).map_err(|e| anyhow!("{e}"))?;
    Ok((profile, text))
}

pub(super) fn read_snapshot(
    root: &Root,
    profile: &Profile,
    profile_path: &Path,
) -> anyhow::Result<Snapshot> {
    if !crate::host::service::is_root() {
        bail!(
            "plan and apply need root (they read /etc/shadow and sudoers, run sshd -T and nft): use sudo"
        );
    }
    let mut snap = snapshot::read(
        root,
        &plan::paths(profile),
        profile.admin.user.as_deref(),
        &super::sysctl::keys(profile),
    )
    .map_err(|e| anyhow!("reading the host: {e}"))?;
    snap.exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/usr/bin/portcullis".into());
    snap.profile_path = std::fs::canonicalize(profile_path)
        .unwrap_or_else(|_| profile_path.to_path_buf())
        .to_string_lossy()
        .into_owned();
    Ok(snap)
}

pub fn run_plan(args: &PlanArgs) -> anyhow::Result<ExitCode> {
    let profile = load_profile(&args.profile.profile)?;
    let root = live_root();
    let snap = read_snapshot(&root, &profile, &args.profile.profile)?;
    let p = plan::plan(&profile, &snap, &KeepOpen::default());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan::render_json(&p))?);
    } else {
        print!("{}", plan::render_text(&p));
    }
    Ok(ExitCode::SUCCESS)
}

fn ask(question: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not a terminal: run with --yes to apply without asking");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}

pub fn run_apply(args: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let over_ssh = std::env::var_os("SSH_CONNECTION").is_some();
    let timeout = match (&args.confirm_timeout, over_ssh && !args.no_confirm) {
        (Some(t), _) => Some(confirm::parse_duration(t).map_err(|e| anyhow!(e))?),
        (None, true) => Some(confirm::parse_duration(DEFAULT_CONFIRM).map_err(|e| anyhow!(e))?),
        (None, false) => None,
    };
    let (profile, profile_text) = load_profile_text(&args.profile.profile)?;
    let _lock =
        StateLock::acquire(&args.state.state_dir, Duration::ZERO).map_err(|e| anyhow!(e))?;
    if let Some(id) = latest(&args.state.state_dir, &[Status::AwaitingConfirm]) {
        bail!(
            "transaction {id} awaits confirmation: run `portcullis confirm` or `portcullis rollback` first"
        );
    }
    let root = live_root();
    let snap = read_snapshot(&root, &profile, &args.profile.profile)?;
    // While awaiting confirmation the old SSH port(s) and this session's address stay open.
    let keep = match timeout {
        Some(_) => KeepOpen {
            // sshd -T could not say: keep the default port rather than nothing.
            ports: if snap.sshd_ports.is_empty() {
                vec![22]
            } else {
                snap.sshd_ports.clone()
            },
            client: snap.client_addr.clone(),
        },
        None => KeepOpen::default(),
    };
    let p = plan::plan(&profile, &snap, &keep);
    if p.changes.is_empty() {
        print!("{}", plan::render_text(&p));
        return Ok(ExitCode::SUCCESS);
    }
    lockout::precheck(&profile, &snap, &p).map_err(|e| anyhow!(e))?;
    print!("{}", plan::render_text(&p));
    if !args.yes && !ask("Apply these changes?")? {
        println!("Nothing changed.");
        return Ok(ExitCode::SUCCESS);
    }
    exec::prefetch(&p).map_err(|e| anyhow!(e))?;
    let state = &args.state.state_dir;
    let mut txn =
        Txn::begin(state, &args.profile.profile.to_string_lossy()).map_err(|e| anyhow!(e))?;
    // `confirm` finishes this transaction with this text, not with whatever the file says then:
    // an edit made meanwhile has not been through the lockout guard.
    txn.keep_profile(&profile_text).map_err(|e| anyhow!(e))?;
    let ctx = Ctx {
        root: &root,
        profile: &profile,
        snap: &snap,
    };
    exec::execute(&ctx, &p, &mut txn).map_err(|e| anyhow!(e))?;
    let id = txn.manifest.id.clone();
    match timeout {
        Some(t) => {
            txn.manifest.status = Status::AwaitingConfirm;
            txn.save().map_err(|e| anyhow!(e))?;
            if let Err(e) = confirm::arm(&root, state, &mut txn, t) {
                let _ = super::boot_revert::disarm(&root);
                let rb = txn.rollback(&root);
                bail!(
                    "could not arm the automatic revert ({e}); everything was rolled back{}",
                    rb.err()
                        .map(|r| format!(" INCOMPLETELY: {r}"))
                        .unwrap_or_default()
                );
            }
            let port = profile
                .ssh
                .port
                .map(|p| format!(" -p {p}"))
                .unwrap_or_default();
            println!(
                "Applied as transaction {id} in {:.2}s. It is rolled back in {}s unless you confirm:\n  \
                 open a NEW session (ssh{port} ...) and run: portcullis confirm{}",
                started.elapsed().as_secs_f64(),
                t.as_secs(),
                state_flag(state)
            );
        }
        None => {
            txn.manifest.status = Status::Applied;
            txn.save().map_err(|e| anyhow!(e))?;
            println!(
                "Applied as transaction {id} in {:.2}s (undo: portcullis rollback {id}).",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn state_flag(state: &Path) -> String {
    if state == Path::new(DEFAULT_STATE) {
        String::new()
    } else {
        format!(" --state-dir {}", state.display())
    }
}

pub(super) fn latest(state: &Path, wanted: &[Status]) -> Option<String> {
    Txn::list(state)
        .into_iter()
        .rev()
        .find(|id| Txn::load(state, id).is_ok_and(|t| wanted.contains(&t.manifest.status)))
}
