//! `portcullis guard test`: match a log against a filter, like `fail2ban-regex`. This file is
//! the sshd fast path (`--filter sshd`); a FILTER argument runs any filter.d filter
//! (`test_generic`), and `--samples` runs fail2ban's sample suite (`test_samples`).
//!
//! Reads the whole input once, streaming, and reports what matched, which rules fired, the top
//! offenders and which addresses a jail would ban when the file is replayed with `maxretry` and
//! `findtime`. It is also the matcher's benchmark: it reports lines per second.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::address_table::{self, AddressTable};
use super::duration::Seconds;
use super::lines::{Line, LineReader};
use super::matcher::{
    Failure, FailureRef, Host, LineVerdict, LogType, MatcherOptions, Mode, SshdMatcher,
};
use super::window::Ticket;

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The built-in sshd fast path (used when no FILTER is given).
    #[arg(long, default_value = "sshd")]
    pub filter: String,
    /// fail2ban's sshd filter mode.
    #[arg(long, value_enum, default_value_t = Mode::Normal)]
    pub mode: Mode,
    /// How lines are framed; `auto` decides per line.
    #[arg(long, value_enum, default_value_t = LogType::Auto)]
    pub logtype: LogType,
    /// The clock (RFC 3339): year of syslog dates, time of lines that carry none. Default: now.
    #[arg(long)]
    pub now: Option<Timestamp>,
    /// Zone of timestamps without an offset (IANA name). Default: the system's.
    #[arg(long)]
    pub timezone: Option<String>,
    /// Failures within `findtime` that make a ban, for the would-ban replay.
    #[arg(long, default_value_t = 5)]
    pub maxretry: u32,
    /// Window for counting failures (e.g. 600, 10m, 1h).
    #[arg(long, default_value = "10m")]
    pub findtime: Seconds,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// With --json: one object per input line (NDJSON) instead of a summary.
    #[arg(long)]
    pub per_line: bool,
    /// fail2ban configuration directory whose filter.d FILTER names are looked up in.
    #[arg(long, default_value = "/etc/fail2ban")]
    pub config: std::path::PathBuf,
    /// The sshd fast path with the sshd-plus rules (beyond fail2ban; see docs/guard.md).
    #[arg(long)]
    pub sshd_plus: bool,
    /// With FILTER: try every failregex on each line, not only until the first matches.
    #[arg(long)]
    pub all_regex: bool,
    /// Run fail2ban's sample suite: FILE is its sample-log directory (tests/files/logs), FILTER
    /// one filter to run (default: every filter with a sample log).
    #[arg(long)]
    pub samples: bool,
    /// Log file to read, or `-` for standard input.
    pub file: String,
    /// A filter.d filter: a name (`sshd`), options (`sshd[mode=aggressive]`) or a .conf path.
    pub filter_spec: Option<String>,
}

pub fn run(args: &TestArgs) -> anyhow::Result<ExitCode> {
    if args.samples {
        return super::test_samples::run(args);
    }
    if let Some(spec) = &args.filter_spec {
        if args.per_line && !args.json {
            bail!("--per-line needs --json (it prints one JSON object per line)");
        }
        return super::test_generic::run(args, spec);
    }
    if args.filter != "sshd" {
        bail!(
            "--filter {:?}: the fast path is sshd only; give a filter.d filter as FILTER (guard test LOG {0})",
            args.filter
        );
    }
    if args.per_line && !args.json {
        bail!("--per-line needs --json (it prints one JSON object per line)");
    }
    let timezone = match &args.timezone {
        Some(name) => TimeZone::get(name).with_context(|| format!("unknown time zone {name:?}"))?,
        None => TimeZone::system(),
    };
    let now = args.now.unwrap_or_else(Timestamp::now);
    let input: Box<dyn Read> = if args.file == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?)
    };
    let options = MatcherOptions {
        mode: args.mode,
        logtype: args.logtype,
        timezone: timezone.clone(),
        sshd_plus: args.sshd_plus,
    };
    let mut replay = Replay::new(options, args.findtime.0, args.maxretry);
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout);
    let started = Instant::now();
    replay
        .read(input, now, args.per_line, |n, line_failures| {
            write_line_json(&mut out, n, line_failures, &timezone)
        })
        .with_context(|| format!("reading {}", args.file))?;
    let elapsed = started.elapsed().as_secs_f64();
    if !args.per_line {
        let summary = replay.summary(args, elapsed);
        if args.json {
            serde_json::to_writer(&mut out, &summary)?;
            writeln!(out)?;
        } else {
            print_text(&mut out, &summary)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// How many of the most frequent addresses the summary lists.
const TOP: usize = 10;

/// Matching plus counting over a whole input.
pub struct Replay {
    matcher: SshdMatcher,
    mode: Mode,
    lines: u64,
    matched: u64,
    ignored: u64,
    missed: u64,
    skipped: u64,
    counts: Counts,
}

/// Failures per rule and per address, and the would-ban replay.
struct Counts {
    findtime: i64,
    maxretry: u32,
    failures: u64,
    /// Hits by rule index (several indexes can share one id).
    rule_hits: Vec<Option<(&'static str, u64)>>,
    /// Addresses and (never resolved) host names apart: an address is the cheaper key.
    /// Addresses by family, keyed by their bits: the table of a brute-force log's tens of
    /// thousands of addresses outgrows the caches, so each failure is counted when the next one
    /// of its family comes, its slot loaded meanwhile.
    per_ip4: PrefetchedCounts<u32>,
    per_ip6: PrefetchedCounts<u128>,
    per_name: HashMap<String, HostStats, foldhash::fast::RandomState>,
}

impl Counts {
    fn add(&mut self, failure: &FailureRef) {
        self.failures += 1;
        let index = failure.rule_index;
        if index >= self.rule_hits.len() {
            self.rule_hits.resize(index + 1, None);
        }
        self.rule_hits[index].get_or_insert((failure.rule, 0)).1 += 1;
        let ip = match &failure.host {
            Host::Ip(ip) => *ip,
            Host::Name(name) => {
                // Names are never resolved, so only addresses can be banned.
                match self.per_name.get_mut(name.as_str()) {
                    Some(stats) => stats.failures = stats.failures.saturating_add(1),
                    None => {
                        let stats = self.per_name.entry(name.clone()).or_default();
                        stats.failures = stats.failures.saturating_add(1);
                    }
                }
                return;
            }
        };
        let time = failure.time.as_second();
        let (findtime, maxretry) = (self.findtime, self.maxretry);
        match ip {
            IpAddr::V4(ip) => self.per_ip4.add(ip.to_bits(), time, findtime, maxretry),
            IpAddr::V6(ip) => self.per_ip6.add(ip.to_bits(), time, findtime, maxretry),
        }
    }

    /// Counts the failures still pending; call once the input is read.
    fn finish(&mut self) {
        let (findtime, maxretry) = (self.findtime, self.maxretry);
        self.per_ip4.finish(findtime, maxretry);
        self.per_ip6.finish(findtime, maxretry);
    }
}

/// Per-address counts of one family, each failure counted one failure late (see `Counts`).
#[derive(Default)]
struct PrefetchedCounts<K: address_table::Key> {
    table: AddressTable<K, HostStats>,
    /// The last failure's address and time, not counted yet.
    pending: Option<(K, i64)>,
}

impl<K: address_table::Key> PrefetchedCounts<K> {
    fn add(&mut self, key: K, time: i64, findtime: i64, maxretry: u32) {
        self.table.prefetch(key);
        if let Some((key, time)) = self.pending.replace((key, time)) {
            self.table.entry(key).count(time, findtime, maxretry);
        }
    }

    fn finish(&mut self, findtime: i64, maxretry: u32) {
        if let Some((key, time)) = self.pending.take() {
            self.table.entry(key).count(time, findtime, maxretry);
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct HostStats {
    failures: u32,
    bans: u32,
    window: Ticket,
}

impl HostStats {
    /// One more failure at `time` (seconds): a ban when the window reaches `maxretry`.
    fn count(&mut self, time: i64, findtime: i64, maxretry: u32) {
        self.failures = self.failures.saturating_add(1);
        if self.window.add(time, findtime) >= maxretry {
            self.bans += 1;
            self.window.reset();
        }
    }
}

impl Replay {
    pub fn new(options: MatcherOptions, findtime: i64, maxretry: u32) -> Self {
        Replay {
            mode: options.mode,
            matcher: SshdMatcher::new(options),
            lines: 0,
            matched: 0,
            ignored: 0,
            missed: 0,
            skipped: 0,
            counts: Counts {
                findtime: findtime.max(0),
                maxretry: maxretry.max(1),
                failures: 0,
                rule_hits: Vec::new(),
                per_ip4: PrefetchedCounts::default(),
                per_ip6: PrefetchedCounts::default(),
                per_name: HashMap::default(),
            },
        }
    }

    /// Reads every line of `input`; with `keep` set, `each` sees every line's number and its
    /// failures (or why it was skipped). Without, `each` is not called: counting needs no copies.
    pub fn read(
        &mut self,
        input: impl Read,
        now: Timestamp,
        keep: bool,
        mut each: impl FnMut(u64, Result<&[Failure], &'static str>) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut reader = LineReader::new(input);
        let mut kept = Vec::new();
        while let Some(line) = reader.next_line()? {
            self.lines += 1;
            match line {
                Line::Skipped(reason) => {
                    self.skipped += 1;
                    if keep {
                        each(self.lines, Err(reason.as_str()))?;
                    }
                }
                Line::Text(text) => {
                    kept.clear();
                    let counts = &mut self.counts;
                    let verdict = self.matcher.process_line_with(text, now, |failure| {
                        counts.add(&failure);
                        if keep {
                            kept.push(failure.to_owned());
                        }
                    });
                    match verdict {
                        LineVerdict::Failure => self.matched += 1,
                        LineVerdict::Helper => self.ignored += 1,
                        LineVerdict::Missed => self.missed += 1,
                    }
                    if keep {
                        each(self.lines, Ok(&kept))?;
                    }
                }
            }
        }
        self.counts.finish();
        Ok(())
    }

    fn summary(&self, args: &TestArgs, elapsed: f64) -> Summary {
        let mut rules: BTreeMap<&'static str, u64> = self
            .matcher
            .rule_ids()
            .into_iter()
            .map(|id| (id, 0))
            .collect();
        for (id, hits) in self.counts.rule_hits.iter().flatten() {
            *rules.entry(id).or_default() += hits;
        }
        // Most failures first, then by address; only the top ten and the banned are listed, so
        // only they are sorted (a brute-force log has tens of thousands of addresses).
        let by_failures = |a: &(Host, &HostStats), b: &(Host, &HostStats)| {
            b.1.failures.cmp(&a.1.failures).then_with(|| a.0.cmp(&b.0))
        };
        let counts = &self.counts;
        let mut hosts: Vec<(Host, &HostStats)> = (counts.per_ip4.table.iter())
            .map(|(ip, s)| (Host::Ip(Ipv4Addr::from_bits(ip).into()), s))
            .chain(
                (counts.per_ip6.table.iter())
                    .map(|(ip, s)| (Host::Ip(Ipv6Addr::from_bits(ip).into()), s)),
            )
            .chain(
                counts
                    .per_name
                    .iter()
                    .map(|(n, s)| (Host::Name(n.clone()), s)),
            )
            .collect();
        if hosts.len() > TOP {
            hosts.select_nth_unstable_by(TOP - 1, by_failures);
        }
        let mut top_hosts = hosts[..hosts.len().min(TOP)].to_vec();
        top_hosts.sort_unstable_by(by_failures);
        let top = top_hosts
            .iter()
            .map(|(h, s)| HostCount {
                ip: h.to_string(),
                failures: u64::from(s.failures),
            })
            .collect();
        let mut banned: Vec<(Host, &HostStats)> =
            hosts.into_iter().filter(|(_, s)| s.bans > 0).collect();
        banned.sort_unstable_by(by_failures);
        let would_ban = banned
            .iter()
            .map(|(h, s)| WouldBan {
                ip: h.to_string(),
                failures: u64::from(s.failures),
                bans: s.bans,
            })
            .collect();
        Summary {
            file: args.file.clone(),
            mode: self.mode,
            lines: self.lines,
            matched: self.matched,
            ignored: self.ignored,
            missed: self.missed,
            skipped: self.skipped,
            failures: self.counts.failures,
            addresses: self.counts.per_ip4.table.len()
                + self.counts.per_ip6.table.len()
                + self.counts.per_name.len(),
            maxretry: args.maxretry,
            findtime: args.findtime.to_string(),
            rules,
            top,
            would_ban,
            elapsed_s: elapsed,
            lines_per_s: if elapsed > 0.0 {
                self.lines as f64 / elapsed
            } else {
                0.0
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct Summary {
    file: String,
    mode: Mode,
    lines: u64,
    matched: u64,
    ignored: u64,
    missed: u64,
    skipped: u64,
    failures: u64,
    addresses: usize,
    maxretry: u32,
    findtime: String,
    /// Failures per rule id (every rule of the mode, zero included).
    rules: BTreeMap<&'static str, u64>,
    top: Vec<HostCount>,
    would_ban: Vec<WouldBan>,
    elapsed_s: f64,
    lines_per_s: f64,
}

#[derive(Debug, Serialize)]
struct HostCount {
    ip: String,
    failures: u64,
}

#[derive(Debug, Serialize)]
struct WouldBan {
    ip: String,
    failures: u64,
    bans: u32,
}

#[derive(Serialize)]
struct LineJson<'a> {
    line: u64,
    failures: Vec<FailureJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'static str>,
}

#[derive(Serialize)]
struct FailureJson<'a> {
    rule: &'static str,
    host: String,
    time: String,
    user: Option<&'a str>,
    users: &'a [String],
    attempts: u32,
}

fn write_line_json(
    out: &mut impl Write,
    line: u64,
    failures: Result<&[Failure], &'static str>,
    zone: &TimeZone,
) -> io::Result<()> {
    let (failures, skipped) = match failures {
        Ok(f) => (f, None),
        Err(reason) => (&[][..], Some(reason)),
    };
    let record = LineJson {
        line,
        failures: failures
            .iter()
            .map(|f| FailureJson {
                rule: f.rule,
                host: f.host.to_string(),
                time: f
                    .time
                    .to_zoned_datetime(zone.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string(),
                user: f.user.as_deref(),
                users: &f.users,
                attempts: f.attempts,
            })
            .collect(),
        skipped,
    };
    serde_json::to_writer(&mut *out, &record)?;
    out.write_all(b"\n")
}

fn print_text(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    writeln!(out, "Running tests")?;
    writeln!(out, "=============")?;
    writeln!(out)?;
    writeln!(out, "Filter : sshd, mode {:?}", s.mode)?;
    writeln!(out, "Log    : {}", s.file)?;
    writeln!(out)?;
    writeln!(out, "Results")?;
    writeln!(out, "=======")?;
    writeln!(out)?;
    writeln!(out, "Failures per rule:")?;
    let mut rules: Vec<(&&str, &u64)> = s.rules.iter().filter(|(_, hits)| **hits > 0).collect();
    rules.sort_by_key(|(_, hits)| std::cmp::Reverse(**hits));
    for (rule, hits) in rules {
        writeln!(out, "|  {hits:>9}  {rule}")?;
    }
    writeln!(out, "`-")?;
    writeln!(out)?;
    writeln!(
        out,
        "Top offenders (of {} addresses, {} failures):",
        s.addresses, s.failures
    )?;
    for h in &s.top {
        writeln!(out, "|  {:>9}  {}", h.failures, h.ip)?;
    }
    writeln!(out, "`-")?;
    writeln!(out)?;
    writeln!(
        out,
        "Would ban with maxretry {} in findtime {}: {} addresses",
        s.maxretry,
        s.findtime,
        s.would_ban.len()
    )?;
    for b in s.would_ban.iter().take(10) {
        writeln!(out, "|  {:>9}  {} ({} bans)", b.failures, b.ip, b.bans)?;
    }
    if s.would_ban.len() > 10 {
        writeln!(out, "|  ... {} more (see --json)", s.would_ban.len() - 10)?;
    }
    writeln!(out, "`-")?;
    writeln!(out)?;
    writeln!(
        out,
        "Lines: {} lines, {} ignored, {} matched, {} missed, {} skipped",
        s.lines, s.ignored, s.matched, s.missed, s.skipped
    )?;
    writeln!(
        out,
        "[processed in {:.3} s: {:.0} lines/s]",
        s.elapsed_s, s.lines_per_s
    )?;
    Ok(())
}
