//! `guard run`: sources → matcher → jail → firewall driver → state, in one event loop.
//!
//! Sources and the control socket run on their own threads and send `Event`s through one bounded
//! channel (a flood of log lines slows the readers down instead of growing memory). The loop takes
//! everything that is waiting, then flushes once: the state is saved in one transaction first (so a
//! `kill -9` right after still restores the ban), then the firewall gets one transaction, then the
//! control requests of that round are answered.

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
use super::jail::{Ban, IgnoreList, Jail, Outcome, Policy, net_text};
use super::line_matcher::{self, LineMatcher};
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
    pub cfg: JailConfig,
    pub source: SourceSpec,
    matcher: Box<dyn LineMatcher>,
    pub stats: LineStats,
    /// Newest source time seen, for the lag metric.
    pub last_line_time: Option<Timestamp>,
}

pub struct Daemon {
    pub cfg: GuardConfig,
    pub jails: Vec<JailRt>,
    ignore: IgnoreList,
    driver: Box<dyn Driver>,
    state: State,
    batch: Batch,
    ops: Vec<Op>,
    new_bans: Vec<(String, Ban)>,
    replies: Vec<(mpsc::Sender<Response>, Response)>,
    failures: Vec<Failure>,
    reapply: bool,
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
    Ok(cfg)
}

fn ignore_list(cfg: &GuardConfig) -> IgnoreList {
    let mut nets = cfg.ignoreip.clone();
    if cfg.ignoreself {
        nets.extend(sys::local_addresses().into_iter().map(IpNet::from));
    }
    IgnoreList::new(nets)
}

fn matcher_for(cfg: &JailConfig) -> Box<dyn LineMatcher> {
    let timezone = jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC);
    line_matcher::sshd(MatcherOptions {
        mode: cfg.mode,
        logtype: cfg.logtype,
        timezone,
    })
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
        let mut jails: Vec<JailRt> = cfg
            .jails
            .values()
            .filter(|j| j.enabled)
            .map(|j| JailRt {
                jail: Jail::new(j.name.clone(), Policy::from_config(j), cfg.ban_ipv6_prefix),
                source: j.source(auth_log_exists),
                matcher: matcher_for(j),
                cfg: j.clone(),
                stats: LineStats::default(),
                last_line_time: None,
            })
            .collect();
        let started = Instant::now();
        for (jail, ban) in state.all_bans()? {
            if let Some(rt) = jails.iter_mut().find(|r| r.jail.name == jail) {
                rt.jail.remember_count(ban.net, ban.count);
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
            bans_changed: false,
        };
        d.setup_firewall(now)?;
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
                    for f in self.failures.drain(..) {
                        let Host::Ip(ip) = f.host else { continue }; // names are never resolved
                        match rt
                            .jail
                            .on_failure(ip, f.time.as_second(), 1, now, &self.ignore)
                        {
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
                                self.ops.push(Op::Add {
                                    set: source,
                                    net: ban.net,
                                    seconds: ban.seconds() as u64,
                                    replace: false,
                                });
                                self.batch.bans.push((rt.jail.name.clone(), ban.clone()));
                                self.new_bans.push((rt.jail.name.clone(), ban));
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

    fn on_request(&mut self, req: Request, now: i64) -> Response {
        match req {
            Request::Ping {} => Response::ok(json!("pong")),
            Request::Status { jail: None, .. } => {
                let names: Vec<&str> = self.jails.iter().map(|r| r.jail.name.as_str()).collect();
                Response::ok(json!({ "number_of_jail": names.len(), "jails": names }))
            }
            Request::Status {
                jail: Some(name),
                short,
            } => match self.jail_index(&name) {
                Some(i) => Response::ok(self.jail_status(i, now, !short)),
                None => Response::err(format!("Sorry but the jail '{name}' does not exist")),
            },
            Request::Ban { jail, ip, seconds } => self.manual_ban(&jail, &ip, seconds, now),
            Request::Unban { ip, all } => self.manual_unban(ip.as_deref(), all),
            Request::Reload {} => self.reload(now),
        }
    }

    /// Each jail's numbers, for the metrics file.
    pub fn figures(&self, now: i64) -> Vec<metrics::JailFigures> {
        self.jails
            .iter()
            .map(|rt| metrics::JailFigures {
                name: rt.jail.name.clone(),
                lines: rt.stats.lines,
                lines_dropped: rt.stats.dropped,
                failures: rt.jail.counters.total_failed,
                bans: rt.jail.counters.total_banned,
                banned: rt.jail.bans().iter().filter(|b| b.end > now).count() as u64,
                failing: rt.jail.currently_failed() as u64,
                lag_seconds: rt.last_line_time.map(|t| (now - t.as_second()).max(0)),
            })
            .collect()
    }

    pub fn jail_status(&self, i: usize, now: i64, with_list: bool) -> serde_json::Value {
        let rt = &self.jails[i];
        let currently_banned = rt.jail.bans().iter().filter(|b| b.end > now).count();
        let banned: Vec<_> = rt
            .jail
            .bans()
            .into_iter()
            .filter(|b| with_list && b.end > now)
            .map(|b| {
                json!({
                    "ip": net_text(&b.net),
                    "until": time_text(b.end),
                    "until_unix": b.end,
                    "remaining": b.end - now,
                    "count": b.count,
                })
            })
            .collect();
        let mut v = json!({
            "jail": rt.jail.name,
            "currently_failed": rt.jail.currently_failed(),
            "total_failed": rt.jail.counters.total_failed,
            "currently_banned": currently_banned,
            "total_banned": rt.jail.counters.total_banned,
            "banned": banned,
            "lines": rt.stats.lines,
            "lines_dropped": rt.stats.dropped,
            "lines_missed": rt.stats.missed,
        });
        match &rt.source {
            SourceSpec::Files(f) => v["file_list"] = json!(f),
            SourceSpec::Journal(m) => v["journal_matches"] = json!(m),
            SourceSpec::Stdin => v["file_list"] = json!(["-"]),
        }
        v
    }

    fn manual_ban(&mut self, jail: &str, ip: &str, seconds: Option<u64>, now: i64) -> Response {
        let Some(i) = self.jail_index(jail) else {
            return Response::err(format!("Sorry but the jail '{jail}' does not exist"));
        };
        let Ok(addr) = ip.trim().parse::<IpAddr>() else {
            return Response::err(format!("not an IP address: {ip:?}"));
        };
        if self.ignore.contains(addr) {
            return Response::err(format!("{addr} is in ignoreip/ignoreself: not banning it"));
        }
        let rt = &mut self.jails[i];
        let key = rt.jail.key(addr);
        let secs = seconds.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
        let ban = rt.jail.ban(key, now, secs, 0);
        super::fail2ban_log::ban(jail, &net_text(&key));
        log::notice(format_args!(
            "[{jail}] Ban {} (manual, until {})",
            net_text(&key),
            time_text(ban.end)
        ));
        // It may be banned already: the new length replaces the old one.
        self.ops.push(Op::Add {
            set: i,
            net: key,
            seconds: ban.seconds() as u64,
            replace: true,
        });
        self.batch.bans.push((jail.to_string(), ban.clone()));
        self.new_bans.push((jail.to_string(), ban.clone()));
        Response::ok(
            json!({ "banned": net_text(&key), "until": time_text(ban.end), "count": ban.count }),
        )
    }

    fn manual_unban(&mut self, ip: Option<&str>, all: bool) -> Response {
        let mut lifted = Vec::new();
        if all {
            for rt in &mut self.jails {
                lifted.extend(rt.jail.unban_all().into_iter().map(|b| b.net));
            }
            self.batch.unban_all = true;
            if let Err(e) = self.driver.flush() {
                return Response::err(format!("unbanned in the state, but the firewall said: {e}"));
            }
            log::notice(format_args!("Unban all ({} bans)", lifted.len()));
            return Response::ok(json!({ "unbanned": lifted.len() }));
        }
        let Some(text) = ip else {
            return Response::err("give an address, or --all");
        };
        let target = match config::parse_net(text) {
            Ok(n) => n,
            Err(e) => return Response::err(e),
        };
        let single = target.prefix_len() == target.max_prefix_len();
        for (i, rt) in self.jails.iter_mut().enumerate() {
            let keys: Vec<IpNet> = if single {
                vec![rt.jail.key(target.addr())]
            } else {
                rt.jail
                    .bans()
                    .iter()
                    .map(|b| b.net)
                    .filter(|n| target.contains(n))
                    .collect()
            };
            for key in keys {
                if rt.jail.unban(&key).is_some() {
                    log::notice(format_args!("[{}] Unban {}", rt.jail.name, net_text(&key)));
                    super::fail2ban_log::unban(&rt.jail.name, &net_text(&key));
                    lifted.push(key);
                }
                // Always drop it from the state and the kernel, like fail2ban, even if we had no record.
                self.batch.unbans.push((Some(rt.jail.name.clone()), key));
                self.ops.push(Op::Remove { set: i, net: key });
            }
        }
        Response::ok(json!({ "unbanned": lifted.len() }))
    }

    /// Re-read the config: new numbers and ignore lists apply at once; the table is put back (this is
    /// also how it returns after `nft flush ruleset`). Sources and jails added or removed need a restart.
    fn reload(&mut self, now: i64) -> Response {
        let opts = RunOptions {
            config: self.cfg.file.clone(),
            // A default config that is still absent means the built-in defaults, as at start.
            explicit_config: self.cfg.file_required,
            state_dir: Some(self.cfg.state_dir.clone()),
            socket: Some(self.cfg.socket.clone()),
            backend: Some(self.cfg.backend),
        };
        let mut notes = Vec::new();
        match load_config(&opts) {
            Ok(new) => {
                for rt in &mut self.jails {
                    match new.jails.get(&rt.jail.name) {
                        Some(j) => {
                            rt.jail.set_policy(Policy::from_config(j));
                            rt.cfg = j.clone();
                        }
                        None => notes.push(format!(
                            "jail {} was removed: restart to stop it",
                            rt.jail.name
                        )),
                    }
                }
                for name in new.jails.keys() {
                    if self.jail_index(name).is_none() {
                        notes.push(format!("jail {name} is new: restart to start it"));
                    }
                }
                if new.ban_ipv6_prefix != self.cfg.ban_ipv6_prefix {
                    notes.push("ban_ipv6_prefix changed: restart to apply it".into());
                }
                self.ignore = ignore_list(&new);
                self.cfg.ignoreip = new.ignoreip;
                self.cfg.ignoreself = new.ignoreself;
                self.cfg.alerts = new.alerts;
                self.cfg.metrics = new.metrics;
                super::fail2ban_log::configure(new.fail2ban_log.as_deref());
                self.cfg.fail2ban_log = new.fail2ban_log;
            }
            Err(e) => return Response::err(format!("config not reloaded: {e:#}")),
        }
        if let Err(e) = self.setup_firewall(now) {
            return Response::err(format!("{e:#}"));
        }
        log::notice(format_args!("reloaded {}", self.cfg.file.display()));
        Response::ok(json!({ "reloaded": true, "notes": notes }))
    }

    /// Once per second: forget ended bans and quiet windows; lift bans too long for a kernel timeout.
    pub fn tick(&mut self, now: i64) {
        for (i, rt) in self.jails.iter_mut().enumerate() {
            for b in rt.jail.expire(now) {
                if b.seconds() as u64 > MAX_KERNEL_TIMEOUT {
                    self.ops.push(Op::Remove { set: i, net: b.net });
                }
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
        for (jail, ban) in self.new_bans.drain(..) {
            alerts::on_ban(&self.cfg.alerts, &jail, &ban);
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

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .with_context(|| format!("starting {name}"))?;
    Ok(())
}

fn now_unix() -> i64 {
    Timestamp::now().as_second()
}

pub fn run(opts: RunOptions) -> anyhow::Result<ExitCode> {
    let cfg = load_config(&opts)?;
    // SAFETY: umask cannot fail. Everything we create (state, socket) is private to root.
    unsafe { libc::umask(0o077) };
    sys::use_one_malloc_arena();
    super::fail2ban_log::configure(cfg.fail2ban_log.as_deref());
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("creating {}", cfg.state_dir.display()))?;
    let state = State::open(&cfg.state_dir.join(state::DB_FILE))?;
    let driver: Box<dyn Driver> = match cfg.backend {
        Backend::Nftables => Box::new(Nft::new(cfg.ban_ipv6_prefix)),
        Backend::DryRun => Box::new(DryRun),
    };
    let ignore = ignore_list(&cfg);
    // Whoever is logged in over SSH right now should know whether guard could lock them out.
    for client in sys::ssh_peers(22) {
        let verdict = if ignore.contains(client) {
            "it is in ignoreip"
        } else {
            "NOT in ignoreip: add it if it is yours"
        };
        log::notice(format_args!("SSH session open from {client}: {verdict}"));
    }
    let socket = cfg.socket.clone();
    let auth_log = Path::new(config::DEFAULT_AUTH_LOG).exists();
    let mut daemon = Daemon::new(cfg, driver, state, ignore, auth_log, now_unix())?;
    for rt in &daemon.jails {
        let from = match &rt.source {
            SourceSpec::Files(f) => format!(
                "files {}",
                f.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            SourceSpec::Journal(m) => format!("the journal ({})", m.join(" + ")),
            SourceSpec::Stdin => "standard input".into(),
        };
        log::info(format_args!("[{}] watching {from}", rt.jail.name));
    }
    // Small and bounded: a reader far ahead of the matcher waits instead of queueing megabytes.
    let (tx, rx) = mpsc::sync_channel::<Event>(16);
    let listener = control::bind(&socket)?;
    let ctl_tx = tx.clone();
    spawn("control".into(), move || {
        control::serve(listener, |req, reply| {
            ctl_tx.send(Event::Control(req, reply)).is_ok()
        })
    })?;
    daemon.start_sources(&tx)?;
    drop(tx);
    sys::install_signal_flags();
    sys::sd_notify("READY=1");
    log::notice(format_args!(
        "guard started ({} backend)",
        daemon.driver.name()
    ));

    let mut last_tick = Instant::now();
    let mut last_purge = Instant::now();
    let mut last_metrics: Option<Instant> = None;
    let mut busy = false;
    let mut metrics_pending = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(ev) => {
                let now = now_unix();
                daemon.handle(ev, now);
                // Take what else is waiting so it lands in the same transaction, within reason.
                for _ in 0..4096 {
                    match rx.try_recv() {
                        Ok(ev) => daemon.handle(ev, now),
                        Err(_) => break,
                    }
                }
                daemon.flush();
                busy = true;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if busy {
                    // A burst just ended: hand the memory it used back to the system.
                    busy = false;
                    sys::release_free_memory();
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if sys::stop_requested() {
            break;
        }
        if sys::take_reload_request() {
            let resp = daemon.reload(now_unix());
            if let Some(e) = resp.error {
                log::error(format_args!("{e}"));
            }
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            daemon.tick(now_unix());
            daemon.flush();
        }
        if last_purge.elapsed() >= Duration::from_secs(3600) {
            last_purge = Instant::now();
            daemon.purge(now_unix());
        }
        // Every 15 s, and within a second of a change in the bans so a ban shows up quickly.
        let bans_changed = std::mem::take(&mut daemon.bans_changed);
        metrics_pending |= bans_changed;
        let metrics_due = last_metrics.is_none_or(|t| {
            t.elapsed() >= Duration::from_secs(15)
                || (metrics_pending && t.elapsed() >= Duration::from_secs(1))
        });
        if let (Some(path), true) = (daemon.cfg.metrics.textfile.clone(), metrics_due) {
            last_metrics = Some(Instant::now());
            metrics_pending = false;
            if let Err(e) = metrics::write_textfile(&path, &daemon.figures(now_unix())) {
                log::warn(format_args!("metrics textfile {}: {e}", path.display()));
            }
        }
    }
    daemon.flush();
    source::journal::stop_all();
    let _ = std::fs::remove_file(&socket);
    sys::sd_notify("STOPPING=1");
    log::notice(format_args!(
        "guard stopped; bans stay in the kernel until they expire"
    ));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::fake::{Call, Recording};
    use crate::guard::state::FileMark;

    const NOW: i64 = 1_790_000_000;

    fn cfg(dir: &Path) -> GuardConfig {
        let text = format!(
            "[guard]\nbackend = \"dry-run\"\nignoreip = [\"198.51.100.0/24\"]\nignoreself = false\nstate_dir = \"{}\"\n\
             [guard.jails.sshd]\nlogpath = [\"/x/auth.log\"]\nmaxretry = 3\nbantime = \"10m\"\nbantime_increment = true\n",
            dir.display()
        );
        config::parse_str(&text, Path::new("t.toml")).unwrap()
    }

    fn tmp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pc-daemon-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn daemon(dir: &Path, rec: &Recording) -> Daemon {
        let cfg = cfg(dir);
        let state = State::open(&dir.join(state::DB_FILE)).unwrap();
        let ignore = IgnoreList::new(cfg.ignoreip.clone());
        Daemon::new(cfg, Box::new(rec.clone()), state, ignore, false, NOW).unwrap()
    }

    fn lines(ips: &[&str], pos: u64) -> Event {
        let t = Timestamp::from_second(NOW).unwrap();
        let lines = ips
            .iter()
            .map(|ip| {
                (
                    format!("Failed password for root from {ip} port 22 ssh2"),
                    t,
                )
            })
            .collect();
        let mark = FileMark {
            dev: 1,
            ino: 2,
            pos,
            head: vec![],
        };
        Event::Source(SourceMsg::Lines {
            source: 0,
            lines,
            mark: Some(Mark::File {
                path: "/x/auth.log".into(),
                mark,
            }),
        })
    }

    /// The one jail's sets, as the daemon sets them up.
    fn sshd_sets() -> Vec<BanSet> {
        vec![BanSet {
            name: "sshd".into(),
            scope: crate::firewall::Scope::AllPorts,
        }]
    }

    fn ask(d: &mut Daemon, req: Request) -> Response {
        let (tx, rx) = mpsc::channel();
        d.handle(Event::Control(req, tx), NOW);
        d.flush();
        rx.recv().unwrap()
    }

    #[test]
    fn a_batch_of_failures_becomes_one_firewall_transaction_and_is_saved() {
        let dir = tmp("batch");
        let rec = Recording::default();
        let mut d = daemon(&dir, &rec);
        assert_eq!(rec.take(), vec![Call::Setup(sshd_sets(), vec![])]);
        let ips = [
            "192.0.2.1",
            "192.0.2.2",
            "198.51.100.5",
            "192.0.2.1",
            "192.0.2.2",
            "192.0.2.1",
            "192.0.2.2",
        ];
        d.handle(lines(&ips, 700), NOW);
        d.handle(lines(&["2001:db8::7"; 3], 900), NOW);
        d.flush();
        let secs = 600;
        assert_eq!(
            rec.take(),
            vec![Call::Apply(vec![
                Op::Add {
                    set: 0,
                    net: "192.0.2.1/32".parse().unwrap(),
                    seconds: secs,
                    replace: false
                },
                Op::Add {
                    set: 0,
                    net: "192.0.2.2/32".parse().unwrap(),
                    seconds: secs,
                    replace: false
                },
                Op::Add {
                    set: 0,
                    net: "2001:db8::7/128".parse().unwrap(),
                    seconds: secs,
                    replace: false
                },
            ])]
        );
        let st = State::open(&dir.join(state::DB_FILE)).unwrap();
        assert_eq!(st.current_bans(NOW).unwrap().len(), 3);
        assert_eq!(st.offset("/x/auth.log").unwrap().unwrap().pos, 900);
        let status = d.jail_status(0, NOW, true);
        assert_eq!(status["currently_banned"], 3);
        assert_eq!(
            status["total_failed"], 9,
            "the ignored address is not counted"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn restart_restores_unexpired_bans_in_one_setup_and_increments_repeat_offenders() {
        let dir = tmp("restore");
        let rec = Recording::default();
        {
            let mut d = daemon(&dir, &rec);
            d.handle(lines(&["192.0.2.1"; 3], 10), NOW);
            d.flush();
            let r = ask(
                &mut d,
                Request::Ban {
                    jail: "sshd".into(),
                    ip: "192.0.2.9".into(),
                    seconds: Some(5),
                },
            );
            assert!(r.ok, "{r:?}");
            let r = ask(
                &mut d,
                Request::Ban {
                    jail: "sshd".into(),
                    ip: "198.51.100.1".into(),
                    seconds: None,
                },
            );
            assert!(!r.ok, "ignoreip must not be banned by hand either");
        }
        rec.take();
        // 100 s later the 5 s ban is over; the 10 min one is restored for its remaining 500 s.
        let mut d = {
            let cfg = cfg(&dir);
            let state = State::open(&dir.join(state::DB_FILE)).unwrap();
            Daemon::new(
                cfg,
                Box::new(rec.clone()),
                state,
                IgnoreList::default(),
                false,
                NOW + 100,
            )
            .unwrap()
        };
        assert_eq!(
            rec.take(),
            vec![Call::Setup(
                sshd_sets(),
                vec![(0, "192.0.2.1/32".parse().unwrap(), 500)]
            )]
        );
        // 192.0.2.9 was banned once before: its next ban lasts 2 × 10 min and it weighs 2 per failure.
        let t = Timestamp::from_second(NOW + 100).unwrap();
        let line = (
            "Failed password for root from 192.0.2.9 port 22 ssh2".to_string(),
            t,
        );
        d.handle(
            Event::Source(SourceMsg::Lines {
                source: 0,
                lines: vec![line.clone(), line],
                mark: None,
            }),
            NOW + 100,
        );
        d.flush();
        assert_eq!(
            rec.take(),
            vec![Call::Apply(vec![Op::Add {
                set: 0,
                net: "192.0.2.9/32".parse().unwrap(),
                seconds: 1200,
                replace: false
            }])]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unban_lifts_in_kernel_state_and_jail() {
        let dir = tmp("unban");
        let rec = Recording::default();
        let mut d = daemon(&dir, &rec);
        d.handle(lines(&["192.0.2.1"; 3], 10), NOW);
        d.handle(lines(&["2001:db8::1"; 3], 20), NOW);
        d.flush();
        rec.take();
        let r = ask(
            &mut d,
            Request::Unban {
                ip: Some("192.0.2.1".into()),
                all: false,
            },
        );
        assert_eq!(r.data["unbanned"], 1);
        assert_eq!(
            rec.take(),
            vec![Call::Apply(vec![Op::Remove {
                set: 0,
                net: "192.0.2.1/32".parse().unwrap()
            }])]
        );
        let r = ask(
            &mut d,
            Request::Unban {
                ip: None,
                all: true,
            },
        );
        assert_eq!(r.data["unbanned"], 1);
        assert_eq!(rec.take(), vec![Call::Flush]);
        let st = State::open(&dir.join(state::DB_FILE)).unwrap();
        assert!(st.current_bans(NOW).unwrap().is_empty());
        assert!(
            !ask(
                &mut d,
                Request::Status {
                    jail: Some("nope".into()),
                    short: false
                }
            )
            .ok
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reload_applies_new_numbers_and_refuses_a_bad_file() {
        let dir = tmp("reload");
        let rec = Recording::default();
        let file = dir.join("guard.toml");
        let good = |maxretry: u32| {
            format!(
                "[guard]\nbackend = \"dry-run\"\nignoreself = false\n[guard.jails.sshd]\nlogpath = [\"/x/auth.log\"]\n\
                 maxretry = {maxretry}\n"
            )
        };
        std::fs::write(&file, good(3)).unwrap();
        let cfg = config::load(&file, true).unwrap();
        let state = State::open(&dir.join(state::DB_FILE)).unwrap();
        let mut d = Daemon::new(
            cfg,
            Box::new(rec.clone()),
            state,
            IgnoreList::default(),
            false,
            NOW,
        )
        .unwrap();
        d.handle(lines(&["192.0.2.1"; 3], 10), NOW);
        d.flush();
        rec.take();

        std::fs::write(
            &file,
            "[guard]\nbackend = \"dry-run\"\n[guard.jails.sshd]\nmaxretry = \"x\"\n",
        )
        .unwrap();
        let r = ask(&mut d, Request::Reload {});
        let err = r.error.unwrap();
        assert!(err.contains(&format!("{}:4:12:", file.display())), "{err}");
        assert_eq!(
            d.jails[0].jail.policy().maxretry,
            3,
            "the running config stays"
        );

        std::fs::write(&file, good(1)).unwrap();
        let r = ask(&mut d, Request::Reload {});
        assert!(r.ok, "{r:?}");
        assert_eq!(d.jails[0].jail.policy().maxretry, 1);
        // The table is put back with the ban in force (what follows an nftables reload).
        assert_eq!(
            rec.take(),
            vec![Call::Setup(
                sshd_sets(),
                vec![(0, "192.0.2.1/32".parse().unwrap(), 600)]
            )]
        );
        d.handle(lines(&["192.0.2.2"], 20), NOW);
        d.flush();
        assert_eq!(rec.take().len(), 1, "maxretry 1 bans at the first failure");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
