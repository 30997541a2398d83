//! Ban alerts: a mail through the local sendmail and/or a JSON POST to a webhook, each on its own
//! short-lived thread so a slow mail server never delays a ban. Nothing captured from a log line is
//! sent: only the jail name (from the config), the parsed address and numbers. sendmail is run with an
//! argument vector, never through a shell.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;

use super::config::AlertConfig;
use super::jail::{Ban, net_text};
use super::log;

pub fn on_ban(cfg: &AlertConfig, jail: &str, ban: &Ban) {
    if cfg.mail_to.is_empty() && cfg.webhook.is_none() {
        return;
    }
    let payload = json!({
        "event": "ban",
        "jail": jail,
        "ip": net_text(&ban.net),
        "start": ban.start,
        "end": ban.end,
        "until": jiff::Timestamp::from_second(ban.end).map(|t| t.to_string()).unwrap_or_default(),
        "count": ban.count,
        "failures": ban.failures,
        "host": hostname(),
    });
    if !cfg.mail_to.is_empty() {
        let (program, to, body) = (
            cfg.sendmail.clone(),
            cfg.mail_to.clone(),
            mail_text(&cfg.mail_to, &payload),
        );
        std::thread::spawn(move || {
            if let Err(e) = sendmail(&program, &to, &body) {
                log::warn(format_args!("alert mail: {e}"));
            }
        });
    }
    if let Some(url) = cfg.webhook.clone() {
        let body = payload.to_string();
        std::thread::spawn(move || {
            if let Err(e) = post_json(&url, &body) {
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

/// The whole message: headers from our own values only, then a short body.
pub fn mail_text(to: &[String], p: &serde_json::Value) -> String {
    let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
    format!(
        "To: {}\nSubject: [portcullis] {} banned by jail {} on {}\nContent-Type: text/plain; charset=utf-8\n\n\
         portcullis guard banned {} (jail {}) until {}.\nFailures: {}. Ban number {} for this address.\n",
        to.join(", "),
        s("ip"),
        s("jail"),
        s("host"),
        s("ip"),
        s("jail"),
        s("until"),
        p["failures"],
        p["count"],
    )
}

fn sendmail(program: &std::path::Path, to: &[String], body: &str) -> std::io::Result<()> {
    let mut child = Command::new(program)
        .arg("-i")
        .arg("--")
        .args(to)
        .stdin(Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(body.as_bytes())?;
    let status = child.wait()?;
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "sendmail exited with {status}"
        )))
    }
}

/// Split `http://host[:port]/path` (plain HTTP; put a local relay in front for TLS).
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// webhooks are supported")?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.to_string(),
            p.parse::<u16>().map_err(|_| format!("bad port in {url}"))?,
        ),
        _ => (authority.to_string(), 80),
    };
    if host.is_empty() {
        return Err(format!("no host in {url}"));
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        path,
    ))
}

fn post_json(url: &str, body: &str) -> Result<(), String> {
    let (host, port, path) = parse_http_url(url)?;
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("host has no address")?;
    let mut s =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut head = [0u8; 32];
    let n = s.read(&mut head).map_err(|e| e.to_string())?;
    let status = String::from_utf8_lossy(&head[..n]);
    match status.split_whitespace().nth(1) {
        Some(code) if code.starts_with('2') => Ok(()),
        other => Err(format!("answered {}", other.unwrap_or("nothing"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:9000/hook").unwrap(),
            ("127.0.0.1".into(), 9000, "/hook".into())
        );
        assert_eq!(
            parse_http_url("http://example.net").unwrap(),
            ("example.net".into(), 80, "/".into())
        );
        assert_eq!(
            parse_http_url("http://[::1]:81/x").unwrap(),
            ("::1".into(), 81, "/x".into())
        );
        assert!(parse_http_url("https://example.net/").is_err());
    }

    #[test]
    fn mail_has_headers_then_body() {
        let p = json!({"ip": "192.0.2.1", "jail": "sshd", "host": "vps", "until": "2026-11-25T22:00:00Z", "failures": 3, "count": 1});
        let m = mail_text(&["root@localhost".into()], &p);
        assert!(m.starts_with(
            "To: root@localhost\nSubject: [portcullis] 192.0.2.1 banned by jail sshd on vps\n"
        ));
        assert!(m.contains("\n\nportcullis guard banned 192.0.2.1"));
    }
}
