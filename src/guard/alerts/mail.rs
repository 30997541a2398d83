//! Ban mail, sent with lettre: through the local sendmail when there is one (the MTA queues and
//! retries), otherwise over SMTP submission to the relay configured once in `[guard.alerts.smtp]`
//! (many VPSes have no MTA). The message is built by lettre, so nothing in it (log lines
//! included, which go in the body only) can add a header.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SendmailTransport, SmtpTransport, Transport};

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, refused if the server cannot (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on this host or a lab.
    None,
}

/// An SMTP submission relay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    /// File holding the password (its first line), so the profile itself holds no secret.
    pub password_file: Option<PathBuf>,
}

impl SmtpConfig {
    pub fn default_port(tls: SmtpTls) -> u16 {
        match tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// Where mail goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRoute {
    pub from: String,
    pub to: Vec<String>,
    pub sendmail: PathBuf,
    pub smtp: Option<SmtpConfig>,
}

/// Which way a message will be sent, for the start-up listing.
pub fn describe(route: &MailRoute) -> String {
    if is_executable(&route.sendmail) {
        format!("mail through {}", route.sendmail.display())
    } else if let Some(s) = &route.smtp {
        format!("mail over SMTP to {}:{} ({:?})", s.host, s.port, s.tls)
    } else {
        format!(
            "mail: no {} and no [guard.alerts.smtp]: cannot be sent",
            route.sendmail.display()
        )
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The message, ready to send.
pub fn message(route: &MailRoute, subject: &str, body: String) -> Result<Message, String> {
    let from: Mailbox = route
        .from
        .parse()
        .map_err(|e| format!("mail_from {:?}: {e}", route.from))?;
    let mut b = Message::builder().from(from).subject(subject);
    for to in &route.to {
        let to: Mailbox = to.parse().map_err(|e| format!("mail_to {to:?}: {e}"))?;
        b = b.to(to);
    }
    b.header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| e.to_string())
}

/// Send it: sendmail when it exists, otherwise the SMTP relay.
pub fn send(route: &MailRoute, msg: &Message) -> Result<(), String> {
    if is_executable(&route.sendmail) {
        return SendmailTransport::new_with_command(route.sendmail.as_os_str())
            .send(msg)
            .map_err(|e| format!("{}: {e}", route.sendmail.display()));
    }
    let Some(smtp) = &route.smtp else {
        return Err(format!(
            "{} does not exist and no SMTP relay is configured ([guard.alerts.smtp])",
            route.sendmail.display()
        ));
    };
    let tls = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls | SmtpTls::Tls => {
            let params = TlsParameters::new(smtp.host.clone()).map_err(|e| e.to_string())?;
            if smtp.tls == SmtpTls::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut b = SmtpTransport::builder_dangerous(smtp.host.as_str())
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let Some(user) = &smtp.username {
        let password = match &smtp.password_file {
            Some(f) => std::fs::read_to_string(f)
                .map_err(|e| format!("password_file {}: {e}", f.display()))?
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
            None => String::new(),
        };
        b = b.credentials(Credentials::new(user.clone(), password));
    }
    b.build()
        .send(msg)
        .map(|_| ())
        .map_err(|e| format!("SMTP {}:{}: {e}", smtp.host, smtp.port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> MailRoute {
        MailRoute {
            from: "portcullis@vps.example".into(),
            to: vec!["admin@example.com".into(), "Ops <ops@example.com>".into()],
            sendmail: "/nonexistent/sendmail".into(),
            smtp: None,
        }
    }

    #[test]
    fn a_log_line_in_the_body_cannot_add_a_header() {
        let body = "line: Failed password for x\r\nBcc: evil@example.net\r\n".to_string();
        let msg = message(&route(), "[portcullis] sshd: banned 192.0.2.1", body).unwrap();
        let text = String::from_utf8(msg.formatted()).unwrap();
        let (head, _) = text.split_once("\r\n\r\n").unwrap();
        assert!(!head.contains("evil@example.net"), "{head}");
        assert!(
            head.contains("To: admin@example.com, Ops <ops@example.com>"),
            "{head}"
        );
        assert!(head.contains("Subject: [portcullis] sshd: banned 192.0.2.1"));
    }

    #[test]
    fn bad_addresses_are_named() {
        let mut r = route();
        r.to = vec!["not an address".into()];
        let e = message(&r, "s", String::new()).unwrap_err();
        assert!(e.contains("not an address"), "{e}");
    }

    #[test]
    fn without_sendmail_or_relay_sending_says_what_to_configure() {
        let msg = message(&route(), "s", "b".into()).unwrap();
        let e = send(&route(), &msg).unwrap_err();
        assert!(e.contains("[guard.alerts.smtp]"), "{e}");
        assert!(describe(&route()).contains("cannot be sent"));
    }
}
