//! `guard run`: sources → matcher → jail → firewall driver → state, in one event loop.
//!
//! Sources and the control socket run on their own threads and send `Event`s through one bounded
//! channel (a flood of log lines slows the readers down instead of growing memory). The loop takes
//! everything that is waiting, then flushes once: the state is saved in one transaction first (so a
//! `kill -9` right after still restores the ban), then the firewall gets one transaction, then the
//! control requests of that round are answered.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ipnet::IpNet;
use jiff::Timestamp;
use serde_json::json;

use super::config::{self, Backend, GuardConfig, JailConfig, SourceSpec};
use super::control::{self, Request, Response};
use super::jail::{IgnoreList, Jail, Outcome, Policy, net_text};
use super::line_matcher::{self, LineMatcher};
use super::match_lines::MatchLines;
use super::matcher::{Failure, Host, LineVerdict, MatcherOptions};
use super::source::{self, Mark, SourceMsg};
use super::state::{self, Batch, State};
use super::{alerts, log, metrics, sys};
use crate::firewall::nft::{MAX_KERNEL_TIMEOUT, Nft};
use crate::firewall::{BanSet, Driver, Op, SetBan, dry_run::DryRun};

pub enum Event {
    Source(SourceMsg),
    Control(Request, mpsc::Sender<Response>),
}

/// Command-line overrides for `guard run`.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub config: PathBuf,
    pub explicit_config: bool,
    pub state_dir: Option<PathBuf>,
    pub socket: Option<PathBuf>,
    pub backend: Option<Backend>,
    /// A fail2ban configuration directory (overrides [guard] fail2ban).
    pub fail2ban: Option<PathBuf>,
    /// Print every jail as it will run and stop (exit 2 on any error).
    pub check: bool,
}

/// Per-jail counters beyond the jail's own.
#[derive(Debug, Default, Clone, Copy)]
pub struct LineStats {
    pub lines: u64,
    pub matched: u64,
    pub missed: u64,
    pub dropped: u64,
    pub ignored: u64,
}

pub struct JailRt {
    pub jail: Jail,
    /// The jail's own ignore list (a fail2ban jail's `ignoreip`); None: `[guard] ignoreip`.
    ignore: Option<IgnoreList>,
    pub cfg: JailConfig,
    pub source: SourceSpec,
    matcher: Box<dyn LineMatcher>,
    pub stats: LineStats,
    /// Newest source time seen, for the lag metric.
    pub last_line_time: Option<Timestamp>,
    /// Matched lines per address, when this jail's ban mail includes them.
    lines: Option<MatchLines>,
}

/// Addresses whose matched lines a jail keeps for its mail.
const MATCH_LINE_ADDRESSES: usize = 2_000;

/// The jail's alerts: its own (a fail2ban jail's mail actions) or the `[guard.alerts]` ones.
fn alerts_of<'a>(cfg: &'a GuardConfig, jail: &'a JailConfig) -> &'a alerts::AlertConfig {
    jail.alerts.as_ref().unwrap_or(&cfg.alerts)
}

fn match_lines_for(cfg: &GuardConfig, jail: &JailConfig) -> Option<MatchLines> {
    let a = alerts_of(cfg, jail);
    (a.lines && !a.mail_to.is_empty()).then(|| {
        MatchLines::new(
            jail.maxmatches.unwrap_or(jail.maxretry) as usize,
            MATCH_LINE_ADDRESSES,
        )
    })
}

pub struct Daemon {
    pub cfg: GuardConfig,
    pub jails: Vec<JailRt>,
    ignore: IgnoreList,
    driver: Box<dyn Driver>,
    state: State,
    batch: Batch,
    ops: Vec<Op>,
    /// New bans to alert about, with the index of their jail.
    new_bans: Vec<(usize, alerts::BanAlert)>,
    replies: Vec<(mpsc::Sender<Response>, Response)>,
    failures: Vec<Failure>,
    reapply: bool,
    /// Bans per network over all jails, for jails with `bantime.overalljails`.
    ban_totals: HashMap<IpNet, u32>,
    /// Runs action.d commands off the loop (started when a jail has such an action).
    runner: Option<crate::guard::fail2ban::runner::Runner>,
    /// Set when a batch changed the bans (read by the loop for the metrics file).
    pub bans_changed: bool,
}

pub fn load_config(opts: &RunOptions) -> anyhow::Result<GuardConfig> {
    let mut cfg = config::load(&opts.config, opts.explicit_config)?;
    if let Some(d) = &opts.state_dir {
        cfg.state_dir = d.clone();
    }
    if let Some(s) = &opts.socket {
        cfg.socket = s.clone();
    }
    if let Some(b) = opts.backend {
        cfg.backend = b;
    }
    if let Some(dir) = &opts.fail2ban {
        cfg.fail2ban = Some(dir.clone());
    }
    if let Some(dir) = cfg.fail2ban.clone() {
        crate::guard::fail2ban::load::load_into(&mut cfg, &dir)?;
    }
    Ok(cfg)
}

fn ignore_list(cfg: &GuardConfig) -> IgnoreList {
    let mut nets = cfg.ignoreip.clone();
    if cfg.ignoreself {
        nets.extend(sys::local_addresses().into_iter().map(IpNet::from));
    }
    IgnoreList::new(nets)
}

/// When a jail's action.d commands run.
#[derive(Clone, Copy)]
pub(super) enum Stage {
    Start,
    Ban,
    Unban,
}

fn shell_actions(cfg: &JailConfig) -> &[config::ShellAction] {
    cfg.fail2ban
        .as_ref()
        .map_or(&[], |p| p.shell_actions.as_slice())
}

/// A fail2ban jail with `bantime.overalljails`.
fn overall(cfg: &JailConfig) -> bool {
    cfg.fail2ban.as_ref().is_some_and(|p| p.overalljails)
}

/// Whether the jail's bans go into the firewall (a fail2ban jail without a ban action: no).
pub(super) fn in_firewall(cfg: &JailConfig) -> bool {
    cfg.fail2ban.as_ref().is_none_or(|p| p.firewall)
}

/// A fail2ban jail's own `ignoreip` (and this host's addresses with `ignoreself`).
fn own_ignore_list(cfg: &JailConfig) -> Option<IgnoreList> {
    let parts = cfg.fail2ban.as_ref()?;
    let mut nets = parts.ignoreip.clone();
    if parts.ignoreself {
        nets.extend(sys::local_addresses().into_iter().map(IpNet::from));
    }
    Some(IgnoreList::new(nets))
}

fn matcher_for(cfg: &JailConfig, source: &SourceSpec) -> Result<Box<dyn LineMatcher>, String> {
    if cfg.fail2ban.is_some() {
        return Ok(Box::new(crate::guard::fail2ban::load::matcher(
            cfg, source,
        )?));
    }
    let timezone = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
    Ok(line_matcher::sshd(MatcherOptions {
        mode: cfg.mode,
        logtype: cfg.logtype,
        timezone,
        sshd_plus: cfg.sshd_plus,
    }))
}

fn time_text(unix: i64) -> String {
    Timestamp::from_second(unix)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

impl Daemon {
    /// Build the jails, restore unexpired bans and ban counts from the state, and load the firewall
    /// table with those bans in one transaction.
    pub fn new(
        cfg: GuardConfig,
        driver: Box<dyn Driver>,
        state: State,
        ignore: IgnoreList,
        auth_log_exists: bool,
        now: i64,
    ) -> anyhow::Result<Self> {
        let mut jails: Vec<JailRt> = Vec::new();
        for j in cfg.jails.values().filter(|j| j.enabled) {
            let source = j.source(auth_log_exists);
            let matcher = match matcher_for(j, &source) {
                Ok(m) => m,
                Err(e) => {
                    log::error(format_args!("[{}] not started: {e}", j.name));
                    continue;
                }
            };
            jails.push(JailRt {
                jail: Jail::new(j.name.clone(), Policy::from_config(j), cfg.ban_ipv6_prefix),
                ignore: own_ignore_list(j),
                source,
                matcher,
                cfg: j.clone(),
                stats: LineStats::default(),
                last_line_time: None,
                lines: match_lines_for(&cfg, j),
            });
        }
        let started = Instant::now();
        let mut ban_totals: HashMap<IpNet, u32> = HashMap::new();
        for (jail, ban) in state.all_bans()? {
            *ban_totals.entry(ban.net).or_insert(0) += ban.count;
            if let Some(rt) = jails.iter_mut().find(|r| r.jail.name == jail) {
                rt.jail.remember_count(ban.net, ban.count);
            }
        }
        // `bantime.overalljails`: earlier bans in every jail count for the increment.
        for rt in jails.iter_mut().filter(|r| overall(&r.cfg)) {
            for (net, total) in &ban_totals {
                rt.jail.remember_count(*net, *total);
            }
        }
        let mut restored = 0usize;
        for (jail, ban) in state.current_bans(now)? {
            let Some(rt) = jails.iter_mut().find(|r| r.jail.name == jail) else {
                continue;
            };
            if ignore.contains(ban.net.addr()) {
                log::info(format_args!(
                    "[{jail}] not restoring {}: it is in ignoreip now",
                    net_text(&ban.net)
                ));
                continue;
            }
            rt.jail.restore(ban);
            rt.jail.counters.total_banned += 1;
            restored += 1;
        }
        let mut d = Daemon {
            cfg,
            jails,
            ignore,
            driver,
            state,
            batch: Batch::default(),
            ops: Vec::new(),
            new_bans: Vec::new(),
            replies: Vec::new(),
            failures: Vec::new(),
            reapply: false,
            ban_totals,
            runner: None,
            bans_changed: false,
        };
        d.setup_firewall(now)?;
        if d.jails.iter().any(|r| !shell_actions(&r.cfg).is_empty()) {
            d.runner = Some(crate::guard::fail2ban::runner::Runner::start(4, 256));
            for i in 0..d.jails.len() {
                d.run_shell(i, Stage::Start, None);
            }
        }
        if restored > 0 {
            log::notice(format_args!(
                "restored {restored} bans in {:.0?}",
                started.elapsed()
            ));
        }
        Ok(d)
    }

    /// (Re)create our table with every ban in force, for its remaining time.
    fn setup_firewall(&mut self, now: i64) -> anyhow::Result<()> {
        let sets: Vec<BanSet> = self
            .jails
            .iter()
            .map(|r| BanSet {
                name: r.jail.name.clone(),
                scope: r.cfg.scope.clone(),
            })
            .collect();
        let bans: Vec<SetBan> = self
            .jails
            .iter()
            .enumerate()
            .filter(|(_, r)| in_firewall(&r.cfg))
            .flat_map(|(i, r)| r.jail.bans().into_iter().map(move |b| (i, b)))
            .filter(|(_, b)| b.end > now)
            .map(|(i, b)| (i, b.net, (b.end - now) as u64))
            .collect();
        self.driver
            .setup(&sets, &bans)
            .with_context(|| format!("setting up the {} ban table", self.driver.name()))
    }

    fn jail_index(&self, name: &str) -> Option<usize> {
        self.jails.iter().position(|r| r.jail.name == name)
    }

    pub fn handle(&mut self, ev: Event, now: i64) {
        match ev {
            Event::Source(msg) => self.on_source(msg, now),
            Event::Control(req, reply) => {
                let resp = self.on_request(req, now);
                self.replies.push((reply, resp));
            }
        }
    }

    fn on_source(&mut self, msg: SourceMsg, now: i64) {
        match msg {
            SourceMsg::Lines {
                source,
                lines,
                mark,
            } => {
                let Some(rt) = self.jails.get_mut(source) else {
                    return;
                };
                for (line, time) in &lines {
                    rt.stats.lines += 1;
                    rt.last_line_time = Some(*time);
                    self.failures.clear();
                    match rt.matcher.process_line(line, *time, &mut self.failures) {
                        LineVerdict::Missed => rt.stats.missed += 1,
                        LineVerdict::Failure | LineVerdict::Helper => rt.stats.matched += 1,
                    }
                    let ignore = rt.ignore.as_ref().unwrap_or(&self.ignore);
                    for f in self.failures.drain(..) {
                        let Host::Ip(ip) = f.host else { continue }; // names are never resolved
                        if let Some(kept) = rt.lines.as_mut() {
                            if !ignore.contains(ip) {
                                kept.push(rt.jail.key(ip), line);
                            }
                        }
                        match rt.jail.on_failure(ip, f.time.as_second(), 1, now, ignore) {
                            Outcome::Banned(ban) => {
                                super::fail2ban_log::ban(&rt.jail.name, &net_text(&ban.net));
                                log::notice(format_args!(
                                    "[{}] Ban {} for {} ({} failures, ban #{})",
                                    rt.jail.name,
                                    net_text(&ban.net),
                                    super::duration::Seconds(ban.seconds()),
                                    ban.failures,
                                    ban.count
                                ));
                                // Not banned in our view, so not in the kernel set either.
                                if in_firewall(&rt.cfg) {
                                    self.ops.push(Op::Add {
                                        set: source,
                                        net: ban.net,
                                        seconds: ban.seconds() as u64,
                                        replace: false,
                                    });
                                }
                                self.batch.bans.push((rt.jail.name.clone(), ban.clone()));
                                let lines = rt
                                    .lines
                                    .as_mut()
                                    .map(|l| l.take(&ban.net))
                                    .unwrap_or_default();
                                self.new_bans.push((
                                    source,
                                    alerts::BanAlert {
                                        jail: rt.jail.name.clone(),
                                        ban,
                                        lines,
                                    },
                                ));
                            }
                            Outcome::Ignored => {
                                rt.stats.ignored += 1;
                                log::info(format_args!(
                                    "[{}] Ignore {ip} by ignoreip/ignoreself",
                                    rt.jail.name
                                ));
                            }
                            Outcome::Counted { .. } | Outcome::AlreadyBanned | Outcome::Stale => {}
                        }
                    }
                }
                match mark {
                    Some(Mark::File { path, mark }) => self.batch.offsets.push((path, mark)),
                    Some(Mark::Cursor { key, cursor }) => self.batch.cursors.push((key, cursor)),
                    None => {}
                }
            }
            SourceMsg::Dropped { source, count } => {
                if let Some(rt) = self.jails.get_mut(source) {
                    rt.stats.dropped += count;
                }
            }
            SourceMsg::Note { source, text, warn } => {
                let name = self.jails.get(source).map_or("?", |r| r.jail.name.as_str());
                if warn {
                    log::warn(format_args!("[{name}] {text}"));
                } else {
                    log::info(format_args!("[{name}] {text}"));
                }
            }
        }
    }

    /// Queue a jail's action.d commands for a stage (never waits for them).
    pub(super) fn run_shell(&mut self, i: usize, stage: Stage, ban: Option<&alerts::BanAlert>) {
        let Some(rt) = self.jails.get(i) else { return };
        let Some(runner) = self.runner.as_mut() else {
            return;
        };
        for a in shell_actions(&rt.cfg) {
            let template = match stage {
                Stage::Start => &a.start,
                Stage::Ban => &a.ban,
                Stage::Unban => &a.unban,
            };
            let Some(template) = template else { continue };
            let mut values = std::collections::BTreeMap::new();
            if let Some(b) = ban {
                let ip = net_text(&b.ban.net);
                let family = if b.ban.net.addr().is_ipv4() {
                    "inet4"
                } else {
                    "inet6"
                };
                let matches = b.lines.join("\n");
                for (k, v) in [
                    ("ip", ip.clone()),
                    ("fid", ip),
                    ("family", family.to_string()),
                    ("failures", b.ban.failures.to_string()),
                    ("ipfailures", b.ban.failures.to_string()),
                    ("ipjailfailures", b.ban.failures.to_string()),
                    ("time", b.ban.start.to_string()),
                    ("bantime", b.ban.seconds().to_string()),
                    ("bancount", b.ban.count.to_string()),
                    ("matches", matches.clone()),
                    ("ipmatches", matches.clone()),
                    ("ipjailmatches", matches),
                ] {
                    values.insert(k.to_string(), v);
                }
            }
            values.insert("timeout".into(), a.timeout.to_string());
            let stage_name = match stage {
                Stage::Start => "actionstart",
                Stage::Ban => "actionban",
                Stage::Unban => "actionunban",
            };
            runner.submit(crate::guard::fail2ban::runner::Job {
                label: format!("[{}] {} {stage_name}", rt.jail.name, a.name),
                command: crate::guard::fail2ban::shell::render(template, &values),
                timeout: Duration::from_secs(a.timeout.max(1)),
            });
        }
    }

    /// Count a new ban of `net` for the jails that count bans over all jails.
    fn count_overall(&mut self, net: IpNet) {
        let total = {
            let t = self.ban_totals.entry(net).or_insert(0);
            *t += 1;
            *t
        };
        for rt in self.jails.iter_mut().filter(|r| overall(&r.cfg)) {
            rt.jail.remember_count(net, total);
        }
    }

    /// Once per second: forget ended bans and quiet windows; lift bans too long for a kernel timeout.
    pub fn tick(&mut self, now: i64) {
        let mut ended = Vec::new();
        for (i, rt) in self.jails.iter_mut().enumerate() {
            for b in rt.jail.expire(now) {
                if b.seconds() as u64 > MAX_KERNEL_TIMEOUT {
                    self.ops.push(Op::Remove { set: i, net: b.net });
                }
                ended.push((i, rt.jail.name.clone(), b));
            }
        }
        if self.runner.is_some() {
            for (i, jail, ban) in ended {
                let a = alerts::BanAlert {
                    jail,
                    ban,
                    lines: Vec::new(),
                };
                self.run_shell(i, Stage::Unban, Some(&a));
            }
        }
        if self.reapply {
            self.reapply = false;
            if let Err(e) = self.setup_firewall(now) {
                log::error(format_args!("{e:#}"));
            }
        }
    }

    /// Save, enforce, answer: the end of every round.
    pub fn flush(&mut self) {
        let banned: Vec<IpNet> = self.new_bans.iter().map(|(_, a)| a.ban.net).collect();
        for net in banned {
            self.count_overall(net);
        }
        if let Err(e) = self.state.save(&self.batch) {
            log::error(format_args!("{e}"));
        }
        self.batch = Batch::default();
        if !self.ops.is_empty() {
            self.bans_changed = true;
            if let Err(e) = self.driver.apply(&self.ops) {
                // Our table may be gone (an `nft flush ruleset`): put it back with every ban on the next tick.
                log::error(format_args!("ban batch failed, re-creating the table: {e}"));
                self.reapply = true;
            }
            self.ops.clear();
        }
        let new_bans: Vec<(usize, alerts::BanAlert)> = self.new_bans.drain(..).collect();
        for (i, alert) in new_bans {
            let cfg = match self.jails.get(i) {
                Some(rt) => alerts_of(&self.cfg, &rt.cfg),
                None => &self.cfg.alerts,
            };
            alerts::on_ban(cfg, &alert);
            self.run_shell(i, Stage::Ban, Some(&alert));
        }
        for (tx, resp) in self.replies.drain(..) {
            let _ = tx.send(resp);
        }
    }

    pub fn purge(&mut self, now: i64) {
        match self.state.purge(now) {
            Ok(n) if n > 0 => log::info(format_args!("forgot {n} old bans")),
            Ok(_) => {}
            Err(e) => log::warn(format_args!("{e}")),
        }
    }

    fn start_sources(&self, tx: &mpsc::SyncSender<Event>) -> anyhow::Result<()> {
        for (i, rt) in self.jails.iter().enumerate() {
            let sink = |tx: mpsc::SyncSender<Event>| -> source::Sink {
                Box::new(move |msg| tx.send(Event::Source(msg)).is_ok())
            };
            match &rt.source {
                SourceSpec::Files(paths) => {
                    for p in paths {
                        let saved = self.state.offset(&p.display().to_string())?;
                        let follower = source::file::Follower::new(i, p.clone(), saved);
                        let s = sink(tx.clone());
                        spawn(format!("file {}", p.display()), move || {
                            source::file::run(follower, s)
                        })?;
                    }
                }
                SourceSpec::Journal(matches) => {
                    let js = source::journal::JournalSource {
                        source: i,
                        key: format!("journal:{}", rt.jail.name),
                        program: "journalctl".into(),
                        matches: matches.clone(),
                        cursor: self.state.cursor(&format!("journal:{}", rt.jail.name))?,
                        directory: rt.cfg.journal_directory.clone(),
                    };
                    let s = sink(tx.clone());
                    spawn("journal".into(), move || js.run(s))?;
                }
                SourceSpec::Stdin => {
                    let s = sink(tx.clone());
                    spawn("stdin".into(), move || source::stdin::run(i, s))?;
                }
            }
        }
        Ok(())
    }
}

mod requests;
mod run;

pub use run::run;
use run::spawn;

#[cfg(test)]
mod tests;
