//! `[guard] fail2ban = DIR` / `guard run --fail2ban DIR`: the enabled jails of a fail2ban
//! configuration added to the daemon's, each checked as far as it can be before the daemon
//! starts (filter regexes compiled, dates, sources, actions), and described for the start-up
//! log and `--check`.

use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use super::{convert, jails};
use crate::firewall::scope::Services;
use crate::guard::config::{GuardConfig, JailConfig, SourceSpec};
use crate::guard::filter::dates::DateDetector;
use crate::guard::filter::finder::FinderOptions;
use crate::guard::filter::generic::{FilterOptions, GenericFilter};
use crate::guard::filter::jail_matcher::JailMatcher;
use crate::guard::filter::line::DateOptions;
use crate::guard::filter::runtime;
use crate::guard::log;
use crate::guard::pyregex::Engine;

/// fail2ban's `logtarget` values that are not files.
const NOT_FILES: [&str; 5] = ["SYSLOG", "STDOUT", "STDERR", "SYSOUT", "SYSTEMD-JOURNAL"];

/// The filter of a fail2ban jail, compiled for the daemon: dates in the jail's `logtimezone`
/// (else the system's), find-time checks as fail2ban's daemon makes them.
pub fn compiled(jc: &JailConfig) -> Result<GenericFilter<DateDetector>, String> {
    let Some(parts) = &jc.fail2ban else {
        return Err(format!("jail {} has no filter.d filter", jc.name));
    };
    let system = TimeZone::try_system().unwrap_or(TimeZone::UTC);
    let tz = match &parts.logtimezone {
        Some(t) => DateDetector::parse_log_timezone(t).map_err(|e| e.to_string())?,
        None => system.clone(),
    };
    let opts = FilterOptions {
        use_dns: parts.use_dns.clone(),
        finder: FinderOptions {
            // Names are never resolved: they stay text and are not banned.
            raw_hosts: true,
            ..FinderOptions::default()
        },
        dates: DateOptions {
            check_find_time: true,
            in_operation: true,
            findtime: jc.findtime.0 as f64,
        },
    };
    let mut filter = runtime::build(&parts.filter, tz, opts)?;
    if parts.logtimezone.is_some() {
        filter.dates_mut().set_clock_zone(system);
    }
    Ok(filter)
}

/// The daemon's matcher for a fail2ban jail.
pub fn matcher(jc: &JailConfig, source: &SourceSpec) -> Result<JailMatcher<DateDetector>, String> {
    let journal = matches!(source, SourceSpec::Journal(_));
    Ok(JailMatcher::new(compiled(jc)?, journal))
}

/// Add the enabled jails of `dir` to `cfg`; jails that cannot run go to `cfg.jail_errors`.
pub fn load_into(cfg: &mut GuardConfig, dir: &Path) -> anyhow::Result<()> {
    let f2b = jails::read(dir)?;
    if cfg.default_jail {
        cfg.jails.clear();
    }
    let services = Services::system();
    for jail in f2b.jails {
        let converted = jail.and_then(|spec| convert::jail_config(&spec, &cfg.alerts, &services));
        match converted {
            Ok((jc, notes)) => {
                if cfg.jails.contains_key(&jc.name) {
                    cfg.jail_errors.push(format!(
                        "jail {}: defined in {} and in {}: the portcullis one runs",
                        jc.name,
                        cfg.file.display(),
                        dir.display()
                    ));
                    continue;
                }
                if let Err(e) = compiled(&jc) {
                    cfg.jail_errors.push(format!("jail {}: {e}", jc.name));
                    continue;
                }
                for n in notes {
                    log::warn(format_args!("[{}] {n}", jc.name));
                }
                cfg.jails.insert(jc.name.clone(), jc);
            }
            Err(e) => cfg.jail_errors.push(e.to_string()),
        }
    }
    if cfg.fail2ban_log.is_none() {
        if let Some(target) = f2b
            .logtarget
            .filter(|t| !NOT_FILES.contains(&t.to_uppercase().as_str()))
        {
            cfg.fail2ban_log = Some(PathBuf::from(target));
        }
    }
    Ok(())
}

/// A jail as it will run, over a few lines (the start-up log and `--check`).
pub fn describe(jc: &JailConfig, auth_log_exists: bool) -> String {
    let mut out = format!("[{}]\n", jc.name);
    match &jc.fail2ban {
        Some(parts) => {
            let f = &parts.filter;
            let (mut linear, mut backtracking) = (0, 0);
            if let Ok(c) = compiled(jc) {
                for r in c.engines() {
                    match r.engine {
                        Engine::Linear => linear += 1,
                        Engine::Backtracking { .. } => backtracking += 1,
                    }
                }
            }
            out.push_str(&format!(
                "  filter   {}: {} failregex, {} ignoreregex ({linear} regexes linear, {backtracking} backtracking), maxlines {}, dates {}\n",
                f.name,
                f.failregex.len(),
                f.ignoreregex.len(),
                f.maxlines,
                f.datepattern.as_ref().map_or("by fail2ban's default templates".to_string(), |d| format!("{:?}", d.value)),
            ));
        }
        None => out.push_str(&format!("  filter   sshd fast path, mode {:?}\n", jc.mode)),
    }
    let source = match jc.source(auth_log_exists) {
        SourceSpec::Files(f) => format!(
            "files {}",
            f.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        SourceSpec::Journal(m) if m.is_empty() => "the whole journal".to_string(),
        SourceSpec::Journal(m) => format!("the journal: {}", m.join(" | ")),
        SourceSpec::Stdin => "standard input".into(),
    };
    out.push_str(&format!("  source   {source}\n"));
    let scope = match &jc.fail2ban {
        Some(p) if !p.firewall => "not in the firewall (no ban action)".to_string(),
        _ => jc.scope.to_string(),
    };
    let increment = if jc.bantime_increment {
        " (incremented)"
    } else {
        ""
    };
    out.push_str(&format!(
        "  bans     after {} failures in {} s, for {} s{increment}, {scope}\n",
        jc.maxretry, jc.findtime.0, jc.bantime.0,
    ));
    if let Some(parts) = &jc.fail2ban {
        for (i, a) in parts.actions.iter().enumerate() {
            out.push_str(if i == 0 { "  actions  " } else { "           " });
            out.push_str(a);
            out.push('\n');
        }
        if !parts.ignoreip.is_empty() {
            let nets: Vec<String> = parts.ignoreip.iter().map(|n| n.to_string()).collect();
            out.push_str(&format!(
                "  ignore   {}{}\n",
                nets.join(" "),
                if parts.ignoreself {
                    " and this host's addresses"
                } else {
                    ""
                }
            ));
        }
    }
    out
}
