//! A fail2ban configuration run as it stands, in network namespaces made here: the package's
//! jail.conf, filter.d and action.d with a guide's jail.local (sshd aggressive on port 2222,
//! nginx-http-auth, postfix, dovecot, recidive, `action = %(action_mwl)s`), a real sshd and a real
//! nginx with basic auth in the server namespace, attacks from the attacker namespace.
//! Checked: each jail bans the attacker on its own ports only, recidive then bans every port, the
//! `action_mwl` mail with the matched lines reaches an SMTP sink, the `ignoreip` address is never
//! banned, and `kill -9` loses no ban. sshd writes to stderr and the test timestamps each line the
//! way rsyslog would (`MON DD HH:MM:SS host sshd[PID]: ...`), since the namespace has no syslog.
//! postfix and dovecot jails are loaded (their logs stay empty: no mail daemons run here).
//! Needs root, nft, ip, sshd, sshpass, nginx, curl and python3; skips without root, saying so.

mod fail2ban_pkg;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
const SERVER: &str = "192.0.2.1";
const ATTACKER: &str = "192.0.2.2";
const FRIEND: &str = "192.0.2.3";
const SSH_PORT: u16 = 2222;

fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn must(args: &[&str]) {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Lab {
    srv: String,
    atk: String,
    dir: PathBuf,
    children: Vec<Child>,
    guard: Option<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in self.guard.iter_mut().chain(self.children.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = run(&["ip", "netns", "del", &self.srv]);
        let _ = run(&["ip", "netns", "del", &self.atk]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Lab {
    fn new() -> Lab {
        let id = std::process::id();
        let dir = std::env::temp_dir().join(format!("pc-f2blab-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            srv: format!("pcfs{id}"),
            atk: format!("pcfa{id}"),
            dir,
            children: Vec::new(),
            guard: None,
        };
        let (vs, va) = (format!("vfs{id}"), format!("vfa{id}"));
        must(&["ip", "netns", "add", &lab.srv]);
        must(&["ip", "netns", "add", &lab.atk]);
        must(&[
            "ip", "link", "add", &vs, "netns", &lab.srv, "type", "veth", "peer", "name", &va,
            "netns", &lab.atk,
        ]);
        for (ns, dev, addrs) in [
            (&lab.srv, &vs, vec![SERVER]),
            (&lab.atk, &va, vec![ATTACKER, FRIEND]),
        ] {
            for a in addrs {
                must(&[
                    "ip",
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{a}/24"),
                    "dev",
                    dev,
                ]);
            }
            must(&["ip", "-n", ns, "link", "set", dev, "up"]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    fn p(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn in_srv(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.srv]).args(args);
        c
    }

    /// Runs a client in the attacker's namespace, killed after 20 s: a ban that lands while a
    /// connection is open drops its packets, and the client would wait forever.
    fn in_atk(&self, args: &[&str]) -> Output {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.atk, "timeout", "-k", "2", "20"])
            .args(args);
        c.output().unwrap()
    }

    /// sshd on port 2222, its stderr written to auth.log as syslog would write it.
    fn start_sshd(&mut self) {
        std::fs::create_dir_all("/run/sshd").unwrap();
        must(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            &self.p("hostkey"),
        ]);
        std::fs::write(
            self.p("sshd_config"),
            format!(
                "ListenAddress {SERVER}\nPort {SSH_PORT}\nHostKey {}\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nPermitRootLogin yes\nMaxStartups 100\nLoginGraceTime 15\nLogLevel INFO\nPidFile {}\n",
                self.p("hostkey"),
                self.p("sshd.pid")
            ),
        )
        .unwrap();
        let mut child = self
            .in_srv(&["/usr/sbin/sshd", "-D", "-e", "-f", &self.p("sshd_config")])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = self.p("auth.log");
        let pid = child.id();
        std::thread::spawn(move || {
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::system());
                let stamp = now.strftime("%b %e %H:%M:%S");
                let _ = writeln!(out, "{stamp} srv sshd[{pid}]: {line}");
            }
        });
        self.children.push(child);
        self.wait_tcp(SSH_PORT);
    }

    /// nginx on port 80 with basic auth (user `admin`, password `right`), its error log in the lab.
    fn start_nginx(&mut self) {
        std::fs::write(self.p("htpasswd"), "admin:{PLAIN}right\n").unwrap();
        std::fs::create_dir_all(self.p("www")).unwrap();
        std::fs::write(self.p("www/index.html"), "hello\n").unwrap();
        let conf = format!(
            "master_process off;\npid {0}/nginx.pid;\nerror_log {0}/nginx-error.log info;\nevents {{}}\nhttp {{\n access_log off;\n\
             client_body_temp_path {0}/tmp;\n proxy_temp_path {0}/tmp;\n fastcgi_temp_path {0}/tmp;\n\
             uwsgi_temp_path {0}/tmp;\n scgi_temp_path {0}/tmp;\n server {{\n  listen {SERVER}:80;\n  root {0}/www;\n\
             location / {{ auth_basic \"lab\"; auth_basic_user_file {0}/htpasswd; }}\n }}\n}}\n",
            self.dir.display()
        );
        std::fs::create_dir_all(self.p("tmp")).unwrap();
        std::fs::write(self.p("nginx.conf"), conf).unwrap();
        let child = self
            .in_srv(&[
                "/usr/sbin/nginx",
                "-c",
                &self.p("nginx.conf"),
                "-g",
                "daemon off;",
            ])
            .spawn()
            .unwrap();
        self.children.push(child);
        self.wait_tcp(80);
    }

    /// Python's stdlib SMTP server on the server's loopback; returns its port.
    fn start_smtp_sink(&mut self) -> u16 {
        std::fs::create_dir_all(self.p("mail")).unwrap();
        let mut child = self
            .in_srv(&[
                "/usr/bin/python3",
                "-W",
                "ignore",
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp_sink/sink.py"),
                &self.p("mail"),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut port = String::new();
        let mut out = child.stdout.take().unwrap();
        let mut b = [0u8; 1];
        while out.read(&mut b).unwrap_or(0) == 1 && b[0] != b'\n' {
            port.push(b[0] as char);
        }
        self.children.push(child);
        port.trim().parse().expect("the sink prints its port")
    }

    /// The package's files linked in, with our jail.local and fail2ban.local.
    fn write_fail2ban_etc(&self) -> PathBuf {
        let etc = self.dir.join("etc");
        std::fs::create_dir_all(etc.join("jail.d")).unwrap();
        let pkg = fail2ban_pkg::config_dir();
        for e in [
            "filter.d",
            "action.d",
            "jail.conf",
            "paths-common.conf",
            "paths-debian.conf",
            "fail2ban.conf",
        ] {
            std::os::unix::fs::symlink(pkg.join(e), etc.join(e)).unwrap();
        }
        for log in ["auth.log", "nginx-error.log", "mail.log", "fail2ban.log"] {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.p(log))
                .unwrap();
        }
        std::fs::write(
            etc.join("fail2ban.local"),
            format!("[Definition]\nlogtarget = {}\n", self.p("fail2ban.log")),
        )
        .unwrap();
        let local = format!(
            "[DEFAULT]\nignoreip = 127.0.0.1/8 {FRIEND}\nbantime = 3600\nfindtime = 600\nmaxretry = 3\n\
             destemail = admin@example.com\nsender = fail2ban@example.com\naction = %(action_mwl)s\n\n\
             [sshd]\nenabled = true\nmode = aggressive\nport = {SSH_PORT}\nlogpath = {}\nbackend = auto\nbantime.increment = true\n\n\
             [nginx-http-auth]\nenabled = true\nlogpath = {}\n\n\
             [postfix]\nenabled = true\nlogpath = {}\n\n\
             [dovecot]\nenabled = true\nlogpath = {}\n\n\
             [recidive]\nenabled = true\nlogpath = {}\nmaxretry = 2\n",
            self.p("auth.log"),
            self.p("nginx-error.log"),
            self.p("mail.log"),
            self.p("mail.log"),
            self.p("fail2ban.log"),
        );
        std::fs::write(etc.join("jail.local"), local).unwrap();
        etc
    }

    fn write_guard_config(&self, etc: &Path, smtp_port: u16) {
        std::fs::write(
            self.p("guard.toml"),
            format!(
                "[guard]\nbackend = \"nftables\"\nstate_dir = \"{}\"\nsocket = \"{}\"\nfail2ban = \"{}\"\n\n\
                 [guard.alerts]\nsendmail = \"{}\"\n\n[guard.alerts.smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\ntls = \"none\"\n",
                self.p("state"),
                self.p("guard.sock"),
                etc.display(),
                self.p("no-sendmail"),
            ),
        )
        .unwrap();
    }

    fn start_guard(&mut self, etc: &Path, smtp_port: u16) {
        self.write_guard_config(etc, smtp_port);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.p("guard.log"))
            .unwrap();
        let child = self
            .in_srv(&[BIN, "guard", "run", "--config", &self.p("guard.toml")])
            .stderr(log)
            .spawn()
            .unwrap();
        self.guard = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.cli(&["status"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "guard did not start: {}",
                self.read("guard.log")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn kill9_guard(&mut self) {
        let mut child = self.guard.take().unwrap();
        must(&["kill", "-9", &child.id().to_string()]);
        let _ = child.wait();
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("guard")
            .args(args)
            .args(["--socket", &self.p("guard.sock")])
            .output()
            .unwrap()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.p(name)).unwrap_or_default()
    }

    fn set(&self, set: &str) -> Vec<String> {
        let out = self
            .in_srv(&["nft", "-j", "list", "set", "inet", "portcullis", set])
            .output()
            .unwrap();
        portcullis::firewall::nft::parse_set_json(&String::from_utf8_lossy(&out.stdout))
            .iter()
            .map(|a| a.to_string())
            .collect()
    }

    fn wait_in_set(&self, set: &str, addr: &str, within: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.set(set).iter().any(|a| a == addr) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn wait_tcp(&self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.tcp_open(ATTACKER, port) {
            assert!(Instant::now() < deadline, "port {port} did not open");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Does a TCP connection from `from` to the server's `port` open within 2 s? (curl's 28 is a
    /// connect that timed out, as a dropped packet does; 7 is refused; anything else connected.)
    fn tcp_open(&self, from: &str, port: u16) -> bool {
        let out = self.in_atk(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "--connect-timeout",
            "2",
            "-m",
            "3",
            "--interface",
            from,
            &format!("http://{SERVER}:{port}/"),
        ]);
        !matches!(out.status.code(), Some(28) | Some(7))
    }

    fn http_fail(&self, from: &str) {
        let out = self.in_atk(&[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--connect-timeout",
            "2",
            "--interface",
            from,
            "-u",
            "admin:wrong",
            &format!("http://{SERVER}/"),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "401",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn ssh_fail(&self, from: &str) {
        let out = self.in_atk(&[
            "sshpass",
            "-p",
            "wrong",
            "ssh",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "PreferredAuthentications=password",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "NumberOfPasswordPrompts=1",
            "-o",
            "ConnectTimeout=3",
            "-o",
            "ServerAliveInterval=2",
            "-o",
            "ServerAliveCountMax=2",
            "-p",
            &SSH_PORT.to_string(),
            "-b",
            from,
            &format!("root@{SERVER}"),
            "true",
        ]);
        assert!(!out.status.success());
    }
}

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces, nft)".into());
    }
    for tool in [
        "/usr/sbin/sshd",
        "/usr/sbin/nginx",
        "sshpass",
        "curl",
        "nft",
        "ip",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!(
                "{tool} is not installed (scripts/test.sh installs it)"
            ));
        }
    }
    if !fail2ban_pkg::config_dir().join("jail.conf").is_file() {
        return Some("fail2ban's package is not unpacked (scripts/fail2ban-package.sh)".into());
    }
    None
}

#[test]
fn a_fail2ban_jail_local_runs_unchanged_against_real_sshd_and_nginx() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let mut lab = Lab::new();
    lab.start_sshd();
    lab.start_nginx();
    let smtp = lab.start_smtp_sink();
    let etc = lab.write_fail2ban_etc();
    lab.write_guard_config(&etc, smtp);
    let check = Command::new(BIN)
        .args([
            "guard",
            "run",
            "--config",
            &lab.p("guard.toml"),
            "--check",
            "--fail2ban",
        ])
        .arg(&etc)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "--check: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    lab.start_guard(&etc, smtp);

    // nginx-http-auth: three bad passwords ban the attacker on 80/443 only; ssh still answers.
    for _ in 0..3 {
        lab.http_fail(ATTACKER);
    }
    assert!(
        lab.wait_in_set("nginx_http_auth_v4", ATTACKER, Duration::from_secs(10)),
        "no nginx ban: {}",
        lab.read("guard.log")
    );
    assert!(
        !lab.tcp_open(ATTACKER, 80),
        "port 80 still open to the banned attacker"
    );
    assert!(
        lab.tcp_open(ATTACKER, SSH_PORT),
        "multiport ban closed the ssh port too"
    );
    assert!(lab.tcp_open(FRIEND, 80));

    // sshd: three failures ban it on 2222. Aggressive mode already counted the probe of port
    // 2222 above (an HTTP request is a bad banner), so the ban may come before the third password.
    for _ in 0..3 {
        if lab.set("sshd_v4").contains(&ATTACKER.to_string()) {
            break;
        }
        lab.ssh_fail(ATTACKER);
    }
    assert!(
        lab.wait_in_set("sshd_v4", ATTACKER, Duration::from_secs(10)),
        "no sshd ban: {}\n{}",
        lab.read("guard.log"),
        lab.read("auth.log")
    );
    // The friend in ignoreip fails as often and is never banned.
    for _ in 0..4 {
        lab.ssh_fail(FRIEND);
        lab.http_fail(FRIEND);
    }

    // recidive reads the two Ban lines the daemon wrote to fail2ban's log: every port.
    assert!(
        lab.wait_in_set("recidive_v4", ATTACKER, Duration::from_secs(15)),
        "no recidive ban: {}\n{}",
        lab.read("guard.log"),
        lab.read("fail2ban.log")
    );
    std::thread::sleep(Duration::from_secs(1));
    for set in ["sshd_v4", "nginx_http_auth_v4", "recidive_v4"] {
        assert!(
            !lab.set(set).contains(&FRIEND.to_string()),
            "the ignoreip address was banned in {set}"
        );
    }

    // action_mwl: a mail per ban with the matched lines, over SMTP to the sink.
    let deadline = Instant::now() + Duration::from_secs(20);
    let nginx_mail = loop {
        let mails: Vec<String> = std::fs::read_dir(lab.p("mail"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .collect();
        if let Some(m) = mails
            .iter()
            .find(|m| m.contains("nginx-http-auth: banned 192.0.2.2"))
        {
            break m.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no nginx ban mail: {mails:?}\n{}",
            lab.read("guard.log")
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        nginx_mail.contains("X-Envelope-To: admin@example.com"),
        "{nginx_mail}"
    );
    assert!(
        nginx_mail.contains("X-Envelope-From: fail2ban@example.com"),
        "{nginx_mail}"
    );
    assert!(
        nginx_mail.contains("user \"admin\": password mismatch"),
        "no matched line in: {nginx_mail}"
    );

    // kill -9 and start again: every ban is back in its set.
    lab.kill9_guard();
    lab.in_srv(&["nft", "delete", "table", "inet", "portcullis"])
        .status()
        .unwrap();
    lab.start_guard(&etc, smtp);
    for set in ["sshd_v4", "nginx_http_auth_v4", "recidive_v4"] {
        assert!(
            lab.wait_in_set(set, ATTACKER, Duration::from_secs(10)),
            "{set} lost its ban over kill -9"
        );
    }
}
