//! The stdin source and what a ban sends out: the webhook POST (to a listener in this test), the mail
//! (through a stand-in sendmail that records its argument vector and message, or over SMTP to
//! Python's stdlib SMTP server), and the metrics textfile. Dry-run backend: no root needed.

mod fail2ban_pkg;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");

fn wait_file(path: &std::path::Path, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never contained {needle:?}: {text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn stdin_lines_ban_and_the_ban_is_posted_mailed_and_counted() {
    let dir = std::env::temp_dir().join(format!("pc-outputs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // The listener answers one POST; the test gets it through a channel so a missing POST fails, not hangs.
    let (hook_tx, hook_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        // Read until the JSON body is complete (it ends with '}').
        while !req.ends_with(b"}") {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
        }
        let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let _ = hook_tx.send(String::from_utf8_lossy(&req).into_owned());
    });

    let sendmail = dir.join("sendmail");
    std::fs::write(
        &sendmail,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {0}/mail.args\ncat > {0}/mail.txt\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&sendmail, std::fs::Permissions::from_mode(0o755)).unwrap();

    std::fs::write(
        dir.join("guard.toml"),
        format!(
            "[guard]\nbackend = \"dry-run\"\nignoreself = false\nstate_dir = \"{0}/state\"\nsocket = \"{0}/guard.sock\"\n\
             [guard.jails.sshd]\nstdin = true\nmaxretry = 3\nbantime = \"1h\"\n\
             [guard.alerts]\nmail_to = [\"root@localhost\", \"ops@example.org\"]\nsendmail = \"{0}/sendmail\"\n\
             webhook = \"http://127.0.0.1:{port}/hook\"\n\
             [guard.metrics]\ntextfile = \"{0}/guard.prom\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut guard = Daemon::start(&dir.join("guard.toml"));
    let mut stdin = guard.0.stdin.take().unwrap();
    // Half a line first, the rest later: matched once, whole.
    write!(stdin, "this is noise\nFailed password for root fr").unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    writeln!(stdin, "om 198.51.100.20 port 5 ssh2").unwrap();
    // A user name crafted to look like an address must not bring 6.6.6.6 (or anyone but the sender) in.
    // The third of these is the last line and makes the ban.
    for port in 0..3 {
        writeln!(
            stdin,
            "Failed password for invalid user x from 6.6.6.6 from 192.0.2.77 port 4{port} ssh2"
        )
        .unwrap();
    }
    stdin.flush().unwrap();

    let request = hook_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("no webhook POST within 15 s");
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /hook HTTP/1.1\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        (v["event"].as_str(), v["jail"].as_str(), v["ip"].as_str()),
        (Some("ban"), Some("sshd"), Some("192.0.2.77"))
    );
    assert_eq!(
        (v["count"].as_u64(), v["failures"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        v["end"].as_i64().unwrap() - v["start"].as_i64().unwrap(),
        3600
    );

    let mail = wait_file(&dir.join("mail.txt"), "192.0.2.77");
    let (mail_head, _) = mail.split_once("\r\n\r\n").expect("headers, then a body");
    assert!(
        mail_head.contains("To: root@localhost, ops@example.org\r\n"),
        "{mail}"
    );
    assert!(
        mail_head.contains("Subject: [portcullis] sshd: banned 192.0.2.77 on "),
        "{mail}"
    );
    assert!(
        !mail.contains("6.6.6.6"),
        "log text must not reach the mail: {mail}"
    );
    let args = wait_file(&dir.join("mail.args"), "ops@example.org");
    // lettre's envelope: sender with -f, then the recipients after "--".
    assert!(args.starts_with("-i\n-f\nportcullis@"), "{args}");
    assert!(
        args.ends_with("\n--\nroot@localhost\nops@example.org\n"),
        "{args}"
    );

    let prom = wait_file(
        &dir.join("guard.prom"),
        "portcullis_guard_bans_total{jail=\"sshd\"} 1",
    );
    assert!(
        prom.contains("portcullis_guard_failures_total{jail=\"sshd\"} 4"),
        "{prom}"
    );
    assert!(
        prom.contains("portcullis_guard_banned{jail=\"sshd\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("portcullis_guard_lines_total{jail=\"sshd\"} 5"),
        "{prom}"
    );

    let out = Command::new(BIN)
        .args(["guard", "status", "sshd", "--json", "--socket"])
        .arg(dir.join("guard.sock"))
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["file_list"][0], "-");
    assert_eq!(s["currently_failed"], 1, "198.51.100.20 counted once: {s}");

    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills the daemon however the test ends, so no orphan keeps the test harness's pipes open.
struct Daemon(std::process::Child);

impl Daemon {
    /// `guard run` on this config, its stdin ours to write log lines into.
    fn start(config: &std::path::Path) -> Daemon {
        Daemon(
            Command::new(BIN)
                .args(["guard", "run", "--config"])
                .arg(config)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `[guard] fail2ban_log`: the daemon writes fail2ban's log lines, and fail2ban's own `recidive`
/// filter (read from Debian's package, run by fail2ban-regex) counts its bans as fail2ban's.
#[test]
fn bans_are_logged_the_way_fail2bans_recidive_jail_reads_them() {
    let dir = std::env::temp_dir().join(format!("pc-f2blog-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("fail2ban.log");
    std::fs::write(
        dir.join("guard.toml"),
        format!(
            "[guard]\nbackend = \"dry-run\"\nignoreself = false\nstate_dir = \"{0}/state\"\nsocket = \"{0}/guard.sock\"\n\
             fail2ban_log = \"{0}/fail2ban.log\"\n\
             [guard.jails.sshd]\nstdin = true\nmaxretry = 2\nbantime = \"1h\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let mut guard = Daemon::start(&dir.join("guard.toml"));
    let mut stdin = guard.0.stdin.take().unwrap();
    for port in 0..2 {
        writeln!(
            stdin,
            "Failed password for root from 192.0.2.41 port 4{port} ssh2"
        )
        .unwrap();
    }
    stdin.flush().unwrap();
    wait_file(&log, "Ban 192.0.2.41");
    let unban = Command::new(BIN)
        .args(["guard", "unban", "192.0.2.41", "--socket"])
        .arg(dir.join("guard.sock"))
        .output()
        .unwrap();
    assert!(unban.status.success(), "{unban:?}");
    let text = wait_file(&log, "Unban 192.0.2.41");
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains(" fail2ban.actions        ["),
        "{text}"
    );

    let recidive = fail2ban_pkg::config_dir().join("filter.d/recidive.conf");
    let out = fail2ban_pkg::fail2ban_regex()
        .arg(&log)
        .arg(&recidive)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // One Ban line matched, with its date read; the Unban line is not a ban.
    assert!(report.contains("Failregex: 1 total"), "{report}");
    assert!(
        report.contains("Lines: 2 lines, 0 ignored, 1 matched, 1 missed"),
        "{report}"
    );
    assert!(
        !report.contains("[1] ") || report.contains("Date template hits"),
        "{report}"
    );
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Python's stdlib SMTP server on loopback, writing what it receives into a directory.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
}

impl SmtpSink {
    fn start(dir: &std::path::Path) -> SmtpSink {
        std::fs::create_dir_all(dir).unwrap();
        let mut child = Command::new("/usr/bin/python3")
            .args(["-W", "ignore"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/smtp_sink/sink.py"
            ))
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the SMTP sink");
        let mut port = String::new();
        let mut out = child.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            port.push(byte[0] as char);
        }
        SmtpSink {
            child,
            port: port.trim().parse().expect("the sink prints its port"),
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No local sendmail: the ban mail goes over SMTP to the relay of `[guard.alerts.smtp]`, with the
/// banned address's matched lines (`lines = true`) and no one else's.
#[test]
fn without_sendmail_the_mail_goes_over_smtp_with_the_matched_lines() {
    let dir = std::env::temp_dir().join(format!("pc-smtp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sink = SmtpSink::start(&dir.join("mail"));
    std::fs::write(
        dir.join("guard.toml"),
        format!(
            "[guard]\nbackend = \"dry-run\"\nignoreself = false\nstate_dir = \"{0}/state\"\nsocket = \"{0}/guard.sock\"\n\
             [guard.jails.sshd]\nstdin = true\nmaxretry = 2\n\
             [guard.alerts]\nmail_to = [\"admin@example.com\"]\nmail_from = \"guard@vps.example\"\n\
             sendmail = \"{0}/no-sendmail\"\nlines = true\n\
             [guard.alerts.smtp]\nhost = \"127.0.0.1\"\nport = {1}\ntls = \"none\"\n",
            dir.display(),
            sink.port
        ),
    )
    .unwrap();
    let mut guard = Daemon::start(&dir.join("guard.toml"));
    let mut stdin = guard.0.stdin.take().unwrap();
    writeln!(
        stdin,
        "Failed password for alice from 198.51.100.30 port 1 ssh2"
    )
    .unwrap();
    writeln!(
        stdin,
        "Failed password for root from 192.0.2.44 port 10 ssh2"
    )
    .unwrap();
    writeln!(
        stdin,
        "Failed password for admin from 192.0.2.44 port 11 ssh2"
    )
    .unwrap();
    stdin.flush().unwrap();

    let mail = wait_file(&dir.join("mail/1.eml"), "192.0.2.44");
    let (head, body) = mail
        .split_once("\r\n\r\n")
        .or_else(|| mail.split_once("\n\n"))
        .unwrap();
    assert!(
        head.contains("X-Envelope-From: guard@vps.example"),
        "{head}"
    );
    assert!(head.contains("X-Envelope-To: admin@example.com"), "{head}");
    assert!(
        head.contains("Subject: [portcullis] sshd: banned 192.0.2.44 on "),
        "{head}"
    );
    assert!(
        body.contains("Failed password for root from 192.0.2.44 port 10 ssh2"),
        "{body}"
    );
    assert!(
        body.contains("Failed password for admin from 192.0.2.44 port 11 ssh2"),
        "{body}"
    );
    assert!(
        !body.contains("198.51.100.30"),
        "another address's line: {body}"
    );
    drop(guard);
    drop(sink);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An action.d template of the user's own runs through /bin/sh at start, on each ban and on each
/// unban, with the ban's values filled in (a fail2ban configuration run with `--fail2ban`).
#[test]
fn a_users_own_action_d_template_runs_on_start_ban_and_unban() {
    let dir = std::env::temp_dir().join(format!("pc-shell-action-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["etc/filter.d", "etc/action.d"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let out = dir.join("actions.txt");
    std::fs::write(
        dir.join("etc/filter.d/demo.conf"),
        "[Definition]\nfailregex = ^demo failure from <HOST>$\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("etc/action.d/record.conf"),
        "[Definition]\nactionstart = echo \"start <name>\" >> <out>\nactionban = echo \"ban <ip> <failures> <name> <bantime>\" >> <out>\n\
         actionunban = echo \"unban <ip>\" >> <out>\n[Init]\ntimeout = 5\n",
    )
    .unwrap();
    std::fs::write(dir.join("demo.log"), "").unwrap();
    std::fs::write(
        dir.join("etc/jail.local"),
        format!(
            "[demo]\nenabled = true\nfilter = demo\nlogpath = {}\nmaxretry = 2\nbantime = 2\naction = record[out=\"{}\"]\n",
            dir.join("demo.log").display(),
            out.display()
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("guard.toml"),
        format!(
            "[guard]\nbackend = \"dry-run\"\nignoreself = false\nstate_dir = \"{0}/state\"\nsocket = \"{0}/guard.sock\"\nfail2ban = \"{0}/etc\"\n",
            dir.display()
        ),
    )
    .unwrap();
    let guard = Daemon::start(&dir.join("guard.toml"));
    wait_file(&out, "start demo");
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("demo.log"))
        .unwrap();
    writeln!(
        log,
        "demo failure from 192.0.2.5\ndemo failure from 192.0.2.5"
    )
    .unwrap();
    drop(log);
    wait_file(&out, "ban 192.0.2.5 2 demo 2");
    let text = wait_file(&out, "unban 192.0.2.5");
    assert_eq!(
        text,
        "start demo\nban 192.0.2.5 2 demo 2\nunban 192.0.2.5\n"
    );
    drop(guard);
    let _ = std::fs::remove_dir_all(&dir);
}
