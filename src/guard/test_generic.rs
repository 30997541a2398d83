//! `portcullis guard test LOG FILTER`: fail2ban-regex for any filter.d filter. Every line goes
//! through the filter as fail2ban-regex runs it (no find-time checks, names kept as text); the
//! report has the hits per failregex with the engine each runs on, the addresses and the
//! would-ban replay, or one JSON object per line with `--per-line --json`.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::filter::finder::FailId;
use super::filter::generic::{Failure, RegexKind};
use super::filter::runtime::{self, FilterSpec};
use super::pyregex::Engine;
use super::test_cmd::TestArgs;
use super::window::Ticket;

#[derive(Serialize)]
struct LineJson {
    line: u64,
    failures: Vec<FailureJson>,
}

#[derive(Serialize)]
struct FailureJson {
    rule: usize,
    host: String,
    time: Option<String>,
    /// The same time as epoch seconds, as fail2ban prints it.
    epoch: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<String>,
    attempts: usize,
}

#[derive(Serialize)]
struct RuleJson {
    index: usize,
    regex: String,
    engine: String,
    hits: u64,
}

#[derive(Serialize)]
struct Summary {
    file: String,
    filter: String,
    lines: u64,
    /// Comment and empty lines, and a last line without its end (fail2ban-regex skips them).
    skipped: u64,
    matched: u64,
    missed: u64,
    failures: u64,
    /// Lines cut to the length cap before matching.
    capped: u64,
    /// Searches the backtracking engine gave up on.
    limit_hits: u64,
    failregex: Vec<RuleJson>,
    ignoreregex: Vec<RuleJson>,
    addresses: usize,
    maxretry: u32,
    findtime: i64,
    would_ban: Vec<WouldBan>,
    elapsed_s: f64,
    lines_per_s: f64,
}

#[derive(Serialize)]
struct WouldBan {
    host: String,
    failures: u64,
    bans: u32,
}

fn id_text(id: &FailId) -> String {
    match id {
        FailId::Address { ip, cidr: Some(c) } => format!("{ip}/{c}"),
        FailId::Address { ip, cidr: None } => ip.clone(),
        FailId::Name(n) | FailId::Raw(n) => n.clone(),
    }
}

fn engine_text(e: &Engine) -> String {
    match e {
        Engine::Linear => "linear".into(),
        Engine::Backtracking { reason } => format!("backtracking ({reason})"),
    }
}

fn time_text(t: Option<f64>, zone: &TimeZone) -> Option<String> {
    let t = t?;
    let ts = Timestamp::from_second(t.floor() as i64).ok()?;
    Some(
        ts.to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string(),
    )
}

#[derive(Default)]
struct HostStats {
    failures: u64,
    ticket: Ticket,
    bans: u32,
}

pub fn run(args: &TestArgs, filter_arg: &str) -> anyhow::Result<ExitCode> {
    let spec = FilterSpec::parse(filter_arg, &args.config);
    let def = spec.load().map_err(anyhow::Error::msg)?;
    let zone = match &args.timezone {
        Some(name) => super::filter::dates::DateDetector::parse_log_timezone(name)
            .map_err(|e| anyhow::anyhow!("time zone {name:?}: {e}"))?,
        None => TimeZone::system(),
    };
    let now = args.now.unwrap_or_else(Timestamp::now);
    let now = now.as_second() as f64 + f64::from(now.subsec_nanosecond()) / 1e9;
    let mut filter = runtime::build(&def, zone.clone(), runtime::test_options(args.all_regex))
        .map_err(anyhow::Error::msg)?;
    let input: Box<dyn Read> = if args.file == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?)
    };
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let mut out = BufWriter::new(io::stdout().lock());
    let started = Instant::now();
    let (mut lines, mut matched, mut failures, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    let mut hits = vec![0u64; def.failregex.len()];
    let mut hosts: HashMap<String, HostStats> = HashMap::new();
    let findtime = args.findtime.0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        lines += 1;
        // As fail2ban reads a file: a last line without its end is not complete yet.
        if buf.last() != Some(&b'\n') {
            skipped += 1;
            continue;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        // As fail2ban-regex: comment and empty lines are not log lines.
        if buf.is_empty() || buf[0] == b'#' {
            skipped += 1;
            if args.per_line {
                writeln!(out, "{{\"line\":{lines},\"failures\":[],\"skipped\":true}}")?;
            }
            continue;
        }
        // Invalid UTF-8 is read as fail2ban reads it: replaced, not dropped.
        let text = String::from_utf8_lossy(&buf);
        let found: Vec<Failure> = filter
            .file_line(&text, now)
            .into_iter()
            .filter(Failure::counts)
            .collect();
        if !found.is_empty() {
            matched += 1;
        }
        for f in &found {
            failures += 1;
            if let Some(h) = hits.get_mut(f.rule) {
                *h += 1;
            }
            let host = f.id.as_ref().map(id_text).unwrap_or_default();
            let stats = hosts.entry(host).or_default();
            stats.failures += 1;
            let t = f.time.unwrap_or(now) as i64;
            if stats.ticket.add(t, findtime) >= args.maxretry {
                stats.bans += 1;
                stats.ticket.reset();
            }
        }
        if args.per_line {
            let record = LineJson {
                line: lines,
                failures: found
                    .iter()
                    .map(|f| FailureJson {
                        rule: f.rule,
                        host: f.id.as_ref().map(id_text).unwrap_or_default(),
                        time: time_text(f.time, &zone),
                        epoch: f.time,
                        user: f
                            .data
                            .groups
                            .get("user")
                            .and_then(|v| v.text())
                            .filter(|u| !u.is_empty())
                            .map(String::from),
                        users: f
                            .data
                            .users
                            .as_ref()
                            .map(|u| u.iter().cloned().collect())
                            .unwrap_or_default(),
                        attempts: f.data.matches.len(),
                    })
                    .collect(),
            };
            serde_json::to_writer(&mut out, &record)?;
            out.write_all(b"\n")?;
        }
    }
    if args.per_line {
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let engines: BTreeMap<(RegexKind, usize), String> = filter
        .engines()
        .iter()
        .map(|r| ((r.kind, r.index), engine_text(&r.engine)))
        .collect();
    let rules =
        |kind: RegexKind, list: &[super::filter::definition::Located<String>], hits: &[u64]| {
            list.iter()
                .enumerate()
                .map(|(i, r)| RuleJson {
                    index: i,
                    regex: r.value.clone(),
                    engine: engines.get(&(kind, i)).cloned().unwrap_or_default(),
                    hits: hits.get(i).copied().unwrap_or(0),
                })
                .collect::<Vec<_>>()
        };
    let mut would_ban: Vec<WouldBan> = hosts
        .iter()
        .filter(|(_, s)| s.bans > 0)
        .map(|(h, s)| WouldBan {
            host: h.clone(),
            failures: s.failures,
            bans: s.bans,
        })
        .collect();
    would_ban.sort_by(|a, b| b.failures.cmp(&a.failures).then(a.host.cmp(&b.host)));
    let counts = filter.counts();
    let summary = Summary {
        file: args.file.clone(),
        filter: filter_arg.to_string(),
        lines,
        skipped,
        matched,
        missed: lines - matched - skipped,
        failures,
        capped: counts.capped,
        limit_hits: filter.limit_hits(),
        failregex: rules(RegexKind::Failregex, &def.failregex, &hits),
        ignoreregex: rules(RegexKind::Ignoreregex, &def.ignoreregex, &[]),
        addresses: hosts.len(),
        maxretry: args.maxretry,
        findtime,
        would_ban,
        elapsed_s: elapsed,
        lines_per_s: if elapsed > 0.0 {
            lines as f64 / elapsed
        } else {
            0.0
        },
    };
    if args.json {
        serde_json::to_writer(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &summary)?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn print_text(out: &mut impl Write, s: &Summary) -> io::Result<()> {
    writeln!(out, "Running tests\n=============\n")?;
    writeln!(out, "Filter : {}", s.filter)?;
    writeln!(out, "Log    : {}\n", s.file)?;
    writeln!(out, "Results\n=======\n")?;
    writeln!(out, "Failregex: {} total", s.failures)?;
    writeln!(out, "|-  #) [# of hits] regular expression (engine)")?;
    for r in &s.failregex {
        writeln!(
            out,
            "|  {:>2}) [{}] {} ({})",
            r.index + 1,
            r.hits,
            r.regex,
            r.engine
        )?;
    }
    writeln!(out, "`-\n")?;
    if !s.ignoreregex.is_empty() {
        writeln!(out, "Ignoreregex:")?;
        for r in &s.ignoreregex {
            writeln!(out, "|  {:>2}) {} ({})", r.index + 1, r.regex, r.engine)?;
        }
        writeln!(out, "`-\n")?;
    }
    writeln!(
        out,
        "Would ban with maxretry {} in findtime {}s: {} of {} hosts",
        s.maxretry,
        s.findtime,
        s.would_ban.len(),
        s.addresses
    )?;
    for b in s.would_ban.iter().take(10) {
        writeln!(out, "|  {:>9}  {} ({} bans)", b.failures, b.host, b.bans)?;
    }
    if s.would_ban.len() > 10 {
        writeln!(out, "|  ... {} more (see --json)", s.would_ban.len() - 10)?;
    }
    writeln!(out, "`-\n")?;
    writeln!(
        out,
        "Lines: {} lines, {} skipped (comments, empty, unfinished), {} matched, {} missed",
        s.lines, s.skipped, s.matched, s.missed
    )?;
    if s.capped > 0 || s.limit_hits > 0 {
        writeln!(
            out,
            "       {} cut to the length cap, {} gave the backtracking engine up",
            s.capped, s.limit_hits
        )?;
    }
    writeln!(
        out,
        "[processed in {:.3} s: {:.0} lines/s]",
        s.elapsed_s, s.lines_per_s
    )
}
