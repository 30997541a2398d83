//! A fail2ban jail (as `jails` read it) turned into one of our jails: its numbers parsed with
//! fail2ban's rules, its sources (log globs or the journal), its actions planned (`actions`).
//! What cannot be honoured is an error naming the file and line, and that jail does not start.

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::Arc;

use super::actions::{self, ActionPlan};
use super::jails::{JailError, JailSpec, as_bool};
use crate::firewall::scope::{Scope, Services};
use crate::guard::alerts::AlertConfig;
use crate::guard::alerts::mail::SmtpConfig;
use crate::guard::config::{Fail2banParts, Filter, JailConfig, parse_net};
use crate::guard::duration::Seconds;
use crate::guard::filter::dates::DateDetector;
use crate::guard::matcher::{LogType, Mode};

/// How long a `bantime = -1` (permanent) ban lasts here: a century.
pub const PERMANENT: i64 = 100 * 365 * 86_400;

/// What the conversion noticed without refusing the jail.
pub type Notes = Vec<String>;

struct Ctx<'a> {
    spec: &'a JailSpec,
}

impl Ctx<'_> {
    fn err(&self, key: &str, message: String) -> JailError {
        let origin = self.spec.origin(key);
        let at = if origin.line > 0 {
            format!("{origin}: ")
        } else {
            String::new()
        };
        JailError {
            jail: self.spec.name.clone(),
            message: format!("{at}{key}: {message}"),
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.spec.get(key).map(str::trim)
    }

    fn seconds(&self, key: &str, default: i64) -> Result<i64, JailError> {
        match self.text(key) {
            None | Some("") => Ok(default),
            Some(t) => {
                if let Ok(n) = t.parse::<i64>() {
                    return Ok(n);
                }
                Seconds::parse(t)
                    .map(|s| s.0)
                    .map_err(|e| self.err(key, e.to_string()))
            }
        }
    }

    fn number<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, JailError> {
        match self.text(key) {
            None | Some("") => Ok(default),
            Some(t) => t
                .parse()
                .map_err(|_| self.err(key, format!("{t:?} is not a number"))),
        }
    }

    fn flag(&self, key: &str, default: bool) -> bool {
        self.text(key).map_or(default, as_bool)
    }

    /// A key whose fail2ban meaning we do not carry out must be empty.
    fn refuse(&self, key: &str, why: &str) -> Result<(), JailError> {
        match self.text(key) {
            Some(t) if !t.is_empty() => Err(self.err(key, format!("{t:?}: {why}"))),
            _ => Ok(()),
        }
    }
}

/// `backend`: the journal (with `systemd[journalpath=DIR]`), or files for every other backend.
fn backend(c: &Ctx) -> Result<(bool, Option<PathBuf>), JailError> {
    let b = c.text("backend").unwrap_or("auto");
    let (name, opts) =
        crate::guard::conf::options::extract(b).map_err(|e| c.err("backend", e.to_string()))?;
    match name.trim() {
        "auto" | "polling" | "pyinotify" | "gamin" => Ok((false, None)),
        "systemd" => {
            let mut dir = None;
            for (k, v) in &opts {
                match k.as_str() {
                    "journalpath" => dir = Some(PathBuf::from(v)),
                    // Which journal files and their flags: journalctl reads all of them here.
                    "journalflags" | "journalfiles" | "namespace" => {}
                    other => {
                        return Err(c.err("backend", format!("unknown systemd option {other:?}")));
                    }
                }
            }
            Ok((true, dir))
        }
        other => Err(c.err("backend", format!("unknown backend {other:?}"))),
    }
}

/// `logpath`: one glob per line, each maybe followed by ` head` or ` tail`.
fn logpaths(c: &Ctx) -> Result<Vec<PathBuf>, JailError> {
    let Some(value) = c.text("logpath") else {
        return Err(c.err("logpath", "no log file given".into()));
    };
    let mut found = Vec::new();
    for line in value.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = match line.rsplit_once(' ') {
            Some((p, "head" | "tail")) => p.trim(),
            _ => line,
        };
        let matches = glob::glob(path).map_err(|e| c.err("logpath", format!("{path:?}: {e}")))?;
        for p in matches.flatten() {
            if p.exists() && !found.contains(&p) {
                found.push(p);
            }
        }
    }
    if found.is_empty() {
        return Err(c.err("logpath", format!("no file matches {value:?}")));
    }
    Ok(found)
}

fn ignore_list(c: &Ctx, notes: &mut Notes) -> Vec<ipnet::IpNet> {
    let mut nets = Vec::new();
    for word in c
        .text("ignoreip")
        .unwrap_or("")
        .split([' ', ',', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        match parse_net(word) {
            Ok(n) => nets.push(n),
            Err(_) => match (word, 0).to_socket_addrs() {
                Ok(addrs) => nets.extend(addrs.map(|a| ipnet::IpNet::from(a.ip()))),
                Err(e) => notes.push(format!(
                    "ignoreip {word:?} does not resolve ({e}): left out"
                )),
            },
        }
    }
    nets
}

/// Turn a jail into ours. `global` gives the mail settings a mail action uses (sendmail, the
/// SMTP relay); `services` reads port names.
pub fn jail_config(
    spec: &JailSpec,
    global: &AlertConfig,
    services: &Services,
) -> Result<(JailConfig, Notes), JailError> {
    let c = Ctx { spec };
    let mut notes = Notes::new();
    c.refuse(
        "bantime.formula",
        "a Python expression; use bantime.factor, .multipliers and .maxtime",
    )?;
    c.refuse(
        "ignorecommand",
        "a program run per failure is not supported; list addresses in ignoreip",
    )?;
    if let Some(enc) = c.text("logencoding") {
        let ok = matches!(
            enc.to_lowercase().as_str(),
            "" | "auto" | "utf-8" | "utf8" | "ascii" | "us-ascii"
        );
        if !ok {
            return Err(c.err("logencoding", format!("{enc:?}: logs are read as UTF-8")));
        }
    }
    let filter = spec
        .filter
        .clone()
        .ok_or_else(|| c.err("filter", "no filter: nothing to match".into()))?;
    if let Some(tz) = c.text("logtimezone").filter(|t| !t.is_empty()) {
        DateDetector::parse_log_timezone(tz).map_err(|e| c.err("logtimezone", e.to_string()))?;
    }
    let use_dns = c.text("usedns").unwrap_or("warn").to_lowercase();
    if !matches!(use_dns.as_str(), "yes" | "warn" | "no" | "raw") {
        return Err(c.err("usedns", format!("{use_dns:?}: use yes, warn, no or raw")));
    }
    let factor_text = c.text("bantime.factor").unwrap_or("1");
    let factor: f64 = factor_text.parse().map_err(|_| {
        c.err(
            "bantime.factor",
            format!("{factor_text:?}: a number is needed (not a Python expression)"),
        )
    })?;
    let multipliers = c
        .text("bantime.multipliers")
        .unwrap_or("")
        .split_whitespace()
        .map(|m| {
            m.parse::<u32>().map_err(|_| {
                c.err(
                    "bantime.multipliers",
                    format!("{m:?} is not a whole number"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut bantime = c.seconds("bantime", 600)?;
    if bantime < 0 {
        bantime = PERMANENT;
        notes.push("bantime -1: permanent bans (a century here)".into());
    }
    let maxtime = match c.text("bantime.maxtime") {
        None | Some("") => None,
        Some(_) => Some(Seconds(c.seconds("bantime.maxtime", 0)?)),
    };
    let rndtime = match c.text("bantime.rndtime") {
        None | Some("") => None,
        Some(_) => Some(c.seconds("bantime.rndtime", 0)?),
    };
    let (journal, journal_directory) = backend(&c)?;
    let logpath = if journal { Vec::new() } else { logpaths(&c)? };

    // Actions: bans natively in our sets, mail natively, anything else listed.
    let mut scope: Option<Scope> = None;
    let mut mail: Option<AlertConfig> = None;
    let mut described = Vec::new();
    let mut shell = Vec::new();
    for a in &spec.actions {
        let plan = actions::plan(&a.name, &a.options, spec.vars(), services)
            .map_err(|e| c.err("action", e))?;
        described.push(actions::describe(&a.name, &plan));
        match plan {
            ActionPlan::Ban { scope: s } => {
                scope = Some(match (scope.take(), s) {
                    (None, s) => s,
                    (Some(Scope::AllPorts), _) | (_, Scope::AllPorts) => Scope::AllPorts,
                    (
                        Some(Scope::Ports {
                            protocols: p1,
                            ports: r1,
                        }),
                        Scope::Ports {
                            protocols: p2,
                            ports: r2,
                        },
                    ) => {
                        let mut protocols = p1;
                        for p in p2 {
                            if !protocols.contains(&p) {
                                protocols.push(p);
                            }
                        }
                        let mut ports = r1;
                        ports.extend(r2);
                        ports.sort();
                        ports.dedup();
                        Scope::Ports { protocols, ports }
                    }
                });
            }
            ActionPlan::Mail(m) => {
                let cfg = mail.get_or_insert_with(|| AlertConfig {
                    sendmail: global.sendmail.clone(),
                    smtp: global.smtp.clone(),
                    mail_from: global.mail_from.clone(),
                    ..AlertConfig::default()
                });
                for d in m.dest {
                    if !cfg.mail_to.contains(&d) {
                        cfg.mail_to.push(d);
                    }
                }
                if m.sender.is_some() {
                    cfg.mail_from = m.sender;
                }
                cfg.whois |= m.whois;
                cfg.lines |= m.lines;
                if let Some((host, port)) = m.smtp_host {
                    let base = global.smtp.clone().unwrap_or(SmtpConfig {
                        host: String::new(),
                        port: 0,
                        tls: Default::default(),
                        username: None,
                        password_file: None,
                    });
                    cfg.smtp = Some(SmtpConfig {
                        port: port.unwrap_or(SmtpConfig::default_port(base.tls)),
                        host,
                        username: m.smtp_user.or(base.username),
                        ..base
                    });
                }
            }
            ActionPlan::Shell { name } => {
                let dir = a
                    .file
                    .as_ref()
                    .and_then(|f| f.parent())
                    .and_then(|d| d.parent())
                    .ok_or_else(|| c.err("action", format!("{name}: no action.d file")))?;
                let vars = spec
                    .options
                    .iter()
                    .map(|(k, v)| (k.clone(), v.text.clone()))
                    .collect();
                let cmds = super::action_reader::load(dir, &name, &a.options, &spec.name, &vars)
                    .map_err(|e| c.err("action", format!("{name}: {e}")))?;
                shell.push(cmds);
            }
        }
    }
    if scope.is_none() {
        notes.push("no firewall action: failures are counted but nothing is banned".into());
    }
    let parts = Fail2banParts {
        filter: Arc::new(filter.clone()),
        use_dns,
        logtimezone: c
            .text("logtimezone")
            .filter(|t| !t.is_empty())
            .map(String::from),
        ignoreip: ignore_list(&c, &mut notes),
        ignoreself: c.flag("ignoreself", true),
        firewall: scope.is_some(),
        multipliers,
        rndtime,
        overalljails: c.flag("bantime.overalljails", false),
        actions: described,
        shell_actions: shell,
    };
    let maxmatches = match c.text("maxmatches") {
        None | Some("") => None,
        Some(_) => Some(c.number::<u32>("maxmatches", 0)?),
    };
    let cfg = JailConfig {
        name: spec.name.clone(),
        enabled: true,
        filter: Filter::Sshd,
        mode: Mode::Normal,
        logtype: if journal {
            LogType::Journal
        } else {
            LogType::Auto
        },
        logpath,
        journalmatch: filter.journalmatch.clone(),
        journal_directory,
        stdin: false,
        maxretry: c.number("maxretry", 5u32)?.max(1),
        findtime: Seconds(c.seconds("findtime", 600)?.max(1)),
        bantime: Seconds(bantime.max(1)),
        bantime_increment: c.flag("bantime.increment", false),
        bantime_factor: factor,
        bantime_maxtime: maxtime,
        scope: scope.unwrap_or_default(),
        maxmatches,
        alerts: mail,
        sshd_plus: false,
        fail2ban: Some(Box::new(parts)),
    };
    if journal && cfg.journalmatch.is_empty() {
        notes.push("backend systemd without journalmatch: the whole journal is read".into());
    }
    Ok((cfg, notes))
}

#[cfg(test)]
mod tests;
