//! Ban alerts: a mail (`mail`: local sendmail, else an SMTP relay) and/or a JSON POST to a
//! webhook (`webhook`), each on its own short-lived thread so a slow server never delays a ban.
//! The webhook gets only the jail name (from the config), the parsed address and numbers; the
//! mail may add `whois` output and the address's matched log lines, in its body only.

pub mod mail;
pub mod webhook;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::jail::{Ban, net_text};
use super::log;
use mail::{MailRoute, SmtpConfig};

/// `[guard.alerts]`, and the mail actions of a fail2ban jail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertConfig {
    /// Recipients of a mail per ban.
    pub mail_to: Vec<String>,
    /// Sender (default: portcullis@ this host's name).
    pub mail_from: Option<String>,
    pub sendmail: PathBuf,
    /// Relay used when there is no local sendmail.
    pub smtp: Option<SmtpConfig>,
    /// Add `whois ADDRESS` to the mail (fail2ban's `*-whois` actions).
    pub whois: bool,
    /// Add the address's matched log lines (fail2ban's `*-lines` actions, `action_mwl`).
    pub lines: bool,
    /// URL receiving a JSON POST per ban.
    pub webhook: Option<String>,
}

impl AlertConfig {
    /// The TCP ports these alerts connect out to, for apply's outbound allow list.
    pub fn outbound(&self) -> Vec<crate::profile::OutboundNeed> {
        use crate::profile::OutboundNeed;
        let mut out = Vec::new();
        if !self.mail_to.is_empty() {
            out.push(match &self.smtp {
                Some(s) => OutboundNeed {
                    ports: vec![s.port],
                    what: format!("mail alerts (SMTP relay {})", s.host),
                },
                None => OutboundNeed {
                    ports: vec![25, 587],
                    what: "mail alerts through the local sendmail (its MTA sends on 25, or 587 to a relay)"
                        .into(),
                },
            });
        }
        if let Some(port) = self.webhook.as_deref().and_then(webhook::port_of) {
            out.push(OutboundNeed {
                ports: vec![port],
                what: "the guard's webhook".into(),
            });
        }
        out
    }

    pub fn route(&self) -> MailRoute {
        MailRoute {
            from: self
                .mail_from
                .clone()
                .unwrap_or_else(|| format!("portcullis@{}", hostname())),
            to: self.mail_to.clone(),
            sendmail: self.sendmail.clone(),
            smtp: self.smtp.clone(),
        }
    }
}

/// A ban to tell about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanAlert {
    pub jail: String,
    pub ban: Ban,
    /// The log lines that led to it (kept only when a mail wants them).
    pub lines: Vec<String>,
}

pub fn on_ban(cfg: &AlertConfig, alert: &BanAlert) {
    if cfg.mail_to.is_empty() && cfg.webhook.is_none() {
        return;
    }
    let ban = &alert.ban;
    let payload = json!({
        "event": "ban",
        "jail": alert.jail,
        "ip": net_text(&ban.net),
        "start": ban.start,
        "end": ban.end,
        "until": jiff::Timestamp::from_second(ban.end).map(|t| t.to_string()).unwrap_or_default(),
        "count": ban.count,
        "failures": ban.failures,
        "host": hostname(),
    });
    if !cfg.mail_to.is_empty() {
        let route = cfg.route();
        let (whois, lines) = (cfg.whois, cfg.lines.then(|| alert.lines.clone()));
        let p = payload.clone();
        std::thread::spawn(move || {
            let whois_text = whois.then(|| whois_of(p["ip"].as_str().unwrap_or("")));
            let body = mail_body(&p, whois_text.as_deref(), lines.as_deref());
            let sent =
                mail::message(&route, &mail_subject(&p), body).and_then(|m| mail::send(&route, &m));
            if let Err(e) = sent {
                log::warn(format_args!("alert mail: {e}"));
            }
        });
    }
    if let Some(url) = cfg.webhook.clone() {
        let body = payload.to_string();
        std::thread::spawn(move || {
            if let Err(e) = webhook::post_json(&url, &body) {
                log::warn(format_args!("alert webhook {url}: {e}"));
            }
        });
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

pub fn mail_subject(p: &serde_json::Value) -> String {
    let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
    format!(
        "[portcullis] {}: banned {} on {}",
        s("jail"),
        s("ip"),
        s("host")
    )
}

/// The body: what happened, then whois and the matched lines when asked for.
pub fn mail_body(p: &serde_json::Value, whois: Option<&str>, lines: Option<&[String]>) -> String {
    let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
    let mut body = format!(
        "portcullis guard on {} banned {} in jail {} until {}.\n\
         Failures that led to it: {}. Ban number {} for this address.\n",
        s("host"),
        s("ip"),
        s("jail"),
        s("until"),
        p["failures"],
        p["count"],
    );
    if let Some(w) = whois {
        body.push_str(&format!("\nwhois {}:\n\n{}\n", s("ip"), w.trim_end()));
    }
    if let Some(lines) = lines {
        body.push_str(&format!("\nLog lines of {} that matched:\n\n", s("ip")));
        for l in lines {
            body.push_str(l);
            body.push('\n');
        }
    }
    body
}

/// Most of whois's answer that a mail needs.
const WHOIS_MAX: usize = 16 * 1024;

/// `whois ADDRESS`, run with an argument vector and a time limit; its failure is the text.
fn whois_of(ip: &str) -> String {
    if ip.parse::<std::net::IpAddr>().is_err() {
        return "(not an address)".into();
    }
    let child = Command::new("whois")
        .arg("--")
        .arg(ip)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => return format!("(whois could not run: {e})"),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(Ok(out)) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            if text.len() > WHOIS_MAX {
                let mut end = WHOIS_MAX;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                text.push_str("\n(cut)");
            }
            text
        }
        Ok(Err(e)) => format!("(whois failed: {e})"),
        Err(_) => {
            // SAFETY: kill(2) on the pid of our own child; harmless if it has just exited.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            "(whois did not answer in 15 s)".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> serde_json::Value {
        json!({"ip": "192.0.2.1", "jail": "sshd", "host": "vps", "until": "2026-11-25T22:00:00Z", "failures": 3, "count": 1})
    }

    #[test]
    fn the_mail_says_what_was_banned_and_adds_whois_and_lines_when_asked() {
        let p = payload();
        assert_eq!(
            mail_subject(&p),
            "[portcullis] sshd: banned 192.0.2.1 on vps"
        );
        let plain = mail_body(&p, None, None);
        assert!(plain.starts_with("portcullis guard on vps banned 192.0.2.1 in jail sshd"));
        assert!(!plain.contains("whois"));
        let lines = vec!["Failed password for root from 192.0.2.1".to_string()];
        let full = mail_body(&p, Some("netname: TEST-NET-1\n"), Some(&lines));
        assert!(full.contains("whois 192.0.2.1:\n\nnetname: TEST-NET-1\n"));
        assert!(full.ends_with("that matched:\n\nFailed password for root from 192.0.2.1\n"));
    }

    #[test]
    fn whois_is_only_run_for_an_address() {
        assert_eq!(whois_of("-h evil.example"), "(not an address)");
    }
}
