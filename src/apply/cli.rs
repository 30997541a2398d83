//! The `plan`, `apply`, `confirm`, `rollback`, `history` and `init` commands: argument parsing and wiring.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;

use crate::host::root::Root;
use crate::host::snapshot::{self, Snapshot};
use crate::profile::Profile;

use super::exec::{self, Ctx};
use super::lock::StateLock;
use super::plan::{self, KeepOpen};
use super::txn::{Status, Txn};
use super::{Step, confirm, history, init, lockout};

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

fn live_root() -> Root {
    Root::new(Path::new("/"))
}

fn load_profile(path: &Path) -> anyhow::Result<Profile> {
    Profile::load(path).map_err(|e| anyhow!("{e}"))
}

fn read_snapshot(root: &Root, profile: &Profile, profile_path: &Path) -> anyhow::Result<Snapshot> {
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
    let profile = load_profile(&args.profile.profile)?;
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
    let state = &args.state.state_dir;
    let mut txn =
        Txn::begin(state, &args.profile.profile.to_string_lossy()).map_err(|e| anyhow!(e))?;
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

fn state_flag(state: &Path) -> String {
    if state == Path::new(DEFAULT_STATE) {
        String::new()
    } else {
        format!(" --state-dir {}", state.display())
    }
}

fn latest(state: &Path, wanted: &[Status]) -> Option<String> {
    Txn::list(state)
        .into_iter()
        .rev()
        .find(|id| Txn::load(state, id).is_ok_and(|t| wanted.contains(&t.manifest.status)))
}

pub fn run_confirm(args: &ConfirmArgs) -> anyhow::Result<ExitCode> {
    let state = &args.state.state_dir;
    let _lock = StateLock::acquire(state, Duration::from_secs(10)).map_err(|e| anyhow!(e))?;
    let id = match &args.txn {
        Some(id) => id.clone(),
        None => latest(state, &[Status::AwaitingConfirm])
            .ok_or_else(|| anyhow!("no transaction is awaiting confirmation"))?,
    };
    let mut txn = Txn::load(state, &id).map_err(|e| anyhow!(e))?;
    if txn.manifest.status != Status::AwaitingConfirm {
        bail!(
            "transaction {id} is {}, not awaiting confirmation",
            txn.manifest.status.name()
        );
    }
    let root = live_root();
    warn_if_old_session(&txn);
    confirm::disarm(&root, &txn);
    // The trial is over: the firewall drops what was kept open (old SSH port, this session's address).
    let profile_path = PathBuf::from(&txn.manifest.profile);
    let profile = load_profile(&profile_path)?;
    let snap = read_snapshot(&root, &profile, &profile_path)?;
    let p = plan::plan(&profile, &snap, &KeepOpen::default());
    let fw: Vec<&super::Change> = p
        .changes
        .iter()
        .filter(|c| c.step == Step::Firewall)
        .collect();
    if !fw.is_empty() {
        let ctx = Ctx {
            root: &root,
            profile: &profile,
            snap: &snap,
        };
        exec::run_step(&ctx, Step::Firewall, &fw, &mut txn)
            .map_err(|e| {
                anyhow!("closing the old port failed ({e}); the change itself is confirmed")
            })
            .inspect_err(|_| {
                txn.manifest.status = Status::Confirmed;
                let _ = txn.save();
            })?;
    }
    txn.manifest.status = Status::Confirmed;
    txn.save().map_err(|e| anyhow!(e))?;
    println!("Transaction {id} confirmed; the automatic revert is disarmed.");
    Ok(ExitCode::SUCCESS)
}

/// Confirming from the session that ran apply proves nothing about the new path in: say so.
fn warn_if_old_session(txn: &Txn) {
    let Some(conn) = std::env::var("SSH_CONNECTION").ok() else {
        return;
    };
    let server_port = conn
        .split_whitespace()
        .nth(3)
        .and_then(|p| p.parse::<u16>().ok());
    let Ok(profile) = Profile::load(Path::new(&txn.manifest.profile)) else {
        return;
    };
    if let (Some(here), Some(new)) = (server_port, profile.ssh.port) {
        if here != new {
            eprintln!(
                "portcullis: warning: this session came in on port {here}, not the new port {new}; \
                 confirming is only safe once a new session on port {new} works"
            );
        }
    }
}

pub fn run_rollback(args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let state = &args.state.state_dir;
    let root = live_root();
    if let Some(id) = &args.if_unconfirmed {
        if let Some(secs) = args.after {
            std::thread::sleep(Duration::from_secs(secs));
        }
        // Wait out a confirm (or anything else) in progress, then decide on the status it left.
        let _lock = StateLock::acquire(state, Duration::from_secs(120)).map_err(|e| anyhow!(e))?;
        let mut txn = Txn::load(state, id).map_err(|e| anyhow!(e))?;
        if txn.manifest.status != Status::AwaitingConfirm {
            println!(
                "transaction {id} is {}: nothing to revert",
                txn.manifest.status.name()
            );
            return Ok(ExitCode::SUCCESS);
        }
        txn.rollback(&root).map_err(|e| anyhow!(e))?;
        println!("transaction {id} was not confirmed in time: rolled back");
        return Ok(ExitCode::SUCCESS);
    }
    let _lock = StateLock::acquire(state, Duration::from_secs(10)).map_err(|e| anyhow!(e))?;
    let in_effect = [Status::Applied, Status::AwaitingConfirm, Status::Confirmed];
    let id = match &args.txn {
        Some(id) => id.clone(),
        None => latest(state, &in_effect).ok_or_else(|| anyhow!("no transaction to roll back"))?,
    };
    let mut txn = Txn::load(state, &id).map_err(|e| anyhow!(e))?;
    if !in_effect.contains(&txn.manifest.status) {
        bail!(
            "transaction {id} is {}: nothing to roll back",
            txn.manifest.status.name()
        );
    }
    if let Some(later) = latest(state, &in_effect).filter(|l| l > &id) {
        bail!("transaction {later} came after {id} and is still in effect: roll it back first");
    }
    confirm::disarm(&root, &txn);
    txn.rollback(&root)
        .map_err(|e| anyhow!(e))
        .context(format!("rolling back {id}"))?;
    println!("Transaction {id} rolled back: every file restored, services reloaded.");
    Ok(ExitCode::SUCCESS)
}

pub fn run_history(args: &HistoryArgs) -> anyhow::Result<ExitCode> {
    print!("{}", history::render(&args.state.state_dir));
    Ok(ExitCode::SUCCESS)
}

pub fn run_init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let root = live_root();
    let snap = snapshot::read(&root, &[], None, &[]).map_err(|e| anyhow!(e))?;
    let mut facts = init::InitFacts {
        ssh_ports: snap.sshd_ports.clone(),
        ..Default::default()
    };
    if let Some(name) = std::env::var("SUDO_USER").ok().filter(|u| u != "root") {
        let keys = snap
            .user(&name)
            .map(|u| format!("{}/.ssh/authorized_keys", u.home))
            .filter(|k| root.exists(k));
        facts.user = Some((name, keys));
    }
    facts.services = crate::host::snapshot::public_listeners(&root)
        .into_iter()
        .filter(|(port, proto)| !(*proto == "tcp" && snap.sshd_ports.contains(port)))
        .collect();
    let text = init::starter(&facts);
    Profile::parse(&text, "init").map_err(|e| anyhow!("internal: starter profile invalid: {e}"))?;
    match &args.output {
        None => print!("{text}"),
        Some(path) => {
            if path.exists() {
                bail!("{} exists: not overwritten", path.display());
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, text).with_context(|| path.display().to_string())?;
            println!(
                "Wrote {}; review it, then run: portcullis plan --profile {}",
                path.display(),
                path.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
