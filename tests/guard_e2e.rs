//! End to end, against the real OpenSSH sshd and the real nftables, inside network namespaces made here.
//!
//! "server" runs sshd and `portcullis guard run` (nftables backend); "attacker" is joined to it by a veth
//! pair and fails password logins with sshpass. Nothing here touches this machine's own /etc, firewall
//! or network namespace: nft only ever runs inside the server namespace, and the namespaces are removed
//! on drop. Needs root and the packages openssh-server, openssh-client, sshpass, nftables, iproute2;
//! without root it prints why and skips.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
const SERVER4: &str = "192.0.2.1";
const ATTACKER4: &str = "192.0.2.2";
const FRIEND4: &str = "192.0.2.3";
const SERVER6: &str = "2001:db8::1";
const ATTACKER6: &str = "2001:db8::2";
const FRIEND6: &str = "2001:db8::3";
const MAXRETRY: usize = 3;

fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn missing_tools() -> Vec<&'static str> {
    [
        "/usr/sbin/sshd",
        "ssh",
        "ssh-keygen",
        "sshpass",
        "nft",
        "ip",
    ]
    .into_iter()
    .filter(|t| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .stdout(Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
    })
    .collect()
}

fn run(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn must(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces and a veth pair; removed (with everything running in them) on drop.
struct Lab {
    srv: String,
    atk: String,
    dir: PathBuf,
    sshd: Option<Child>,
    guard: Option<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in [self.guard.as_mut(), self.sshd.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = run(&["ip", "netns", "del", &self.srv]);
        let _ = run(&["ip", "netns", "del", &self.atk]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let id = std::process::id();
        let dir = std::env::temp_dir().join(format!("pc-e2e-{tag}-{id}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let lab = Lab {
            srv: format!("pcs{tag}{id}"),
            atk: format!("pca{tag}{id}"),
            dir,
            sshd: None,
            guard: None,
        };
        let (vs, va) = (format!("vs{tag}{id}"), format!("va{tag}{id}"));
        must(&["ip", "netns", "add", &lab.srv]);
        must(&["ip", "netns", "add", &lab.atk]);
        must(&[
            "ip", "link", "add", &vs, "netns", &lab.srv, "type", "veth", "peer", "name", &va,
            "netns", &lab.atk,
        ]);
        for (ns, dev, addrs) in [
            (&lab.srv, &vs, vec![SERVER4, SERVER6]),
            (&lab.atk, &va, vec![ATTACKER4, FRIEND4, ATTACKER6, FRIEND6]),
        ] {
            for a in addrs {
                if a.contains(':') {
                    must(&[
                        "ip",
                        "-n",
                        ns,
                        "-6",
                        "addr",
                        "add",
                        &format!("{a}/64"),
                        "dev",
                        dev,
                        "nodad",
                    ]);
                } else {
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
            }
            must(&["ip", "-n", ns, "link", "set", dev, "up"]);
            must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn start_sshd(&mut self) {
        // sshd refuses to start without its privilege-separation directory (normally made at boot).
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
        let config = format!(
            "ListenAddress 0.0.0.0\nListenAddress ::\nPort 22\nHostKey {}\nPasswordAuthentication yes\n\
             KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin yes\nMaxStartups 100\nLogLevel INFO\n",
            self.p("hostkey")
        );
        std::fs::write(self.path("sshd_config"), config).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.srv,
                "/usr/sbin/sshd",
                "-D",
                "-f",
                &self.p("sshd_config"),
            ])
            .args([
                "-E",
                &self.p("sshd.log"),
                "-o",
                &format!("PidFile={}", self.p("sshd.pid")),
            ])
            .spawn()
            .unwrap();
        self.sshd = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.tcp_answers(ATTACKER4, SERVER4) {
            assert!(
                Instant::now() < deadline,
                "sshd did not come up: {}",
                self.sshd_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn sshd_log(&self) -> String {
        std::fs::read_to_string(self.path("sshd.log")).unwrap_or_default()
    }

    fn write_guard_config(&self, extra_jail: &str) {
        let config = format!(
            "[ssh]\nport = 22 # another section: ignored by guard\n\n[guard]\nbackend = \"nftables\"\n\
             ignoreip = [\"{FRIEND4}\", \"{FRIEND6}/128\"]\nignoreself = true\nstate_dir = \"{}\"\nsocket = \"{}\"\n\n\
             [guard.jails.sshd]\nmode = \"normal\"\nlogpath = [\"{}\"]\nmaxretry = {MAXRETRY}\nfindtime = \"10m\"\n\
             bantime = \"1h\"\n{extra_jail}",
            self.p("state"),
            self.p("guard.sock"),
            self.p("sshd.log")
        );
        std::fs::write(self.path("guard.toml"), config).unwrap();
    }

    fn start_guard(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("guard.log"))
            .unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.srv,
                BIN,
                "guard",
                "run",
                "--config",
                &self.p("guard.toml"),
            ])
            .stderr(log)
            .spawn()
            .unwrap();
        self.guard = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.cli(&["status"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "guard did not start: {}",
                self.guard_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill9_guard(&mut self) {
        let mut child = self.guard.take().expect("guard runs");
        // `ip netns exec` execs the command, so this pid is the daemon itself.
        must(&["kill", "-9", &child.id().to_string()]);
        let _ = child.wait();
    }

    fn guard_log(&self) -> String {
        std::fs::read_to_string(self.path("guard.log")).unwrap_or_default()
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("guard")
            .args(args)
            .args(["--socket", &self.p("guard.sock")])
            .output()
            .unwrap()
    }

    fn status_json(&self) -> serde_json::Value {
        let out = self.cli(&["status", "sshd", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `nft -j list set inet portcullis SET` inside the server namespace (empty output when the
    /// table is gone).
    fn list_set_json(&self, set: &str) -> String {
        let args = [
            "ip",
            "netns",
            "exec",
            &self.srv,
            "nft",
            "-j",
            "list",
            "set",
            "inet",
            "portcullis",
            set,
        ];
        String::from_utf8_lossy(&run(&args).stdout).into_owned()
    }

    /// The addresses in one of our kernel sets. Empty when the table is gone.
    fn set(&self, set: &str) -> Vec<String> {
        portcullis::firewall::nft::parse_set_json(&self.list_set_json(set))
            .iter()
            .map(|a| a.to_string())
            .collect()
    }

    /// Remaining kernel timeout (seconds) of an element, if it is there.
    fn kernel_expires(&self, set: &str, addr: &str) -> Option<u64> {
        let out = self.list_set_json(set);
        let v: serde_json::Value = serde_json::from_str(&out).ok()?;
        v["nftables"].as_array()?.iter().find_map(|i| {
            i.pointer("/set/elem")?.as_array()?.iter().find_map(|e| {
                (e.pointer("/elem/val")?.as_str()? == addr)
                    .then(|| e.pointer("/elem/expires")?.as_u64())?
            })
        })
    }

    fn wait_in_set(
        &self,
        set: &str,
        addr: &str,
        present: bool,
        within: Duration,
    ) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < within {
            if self.set(set).iter().any(|a| a == addr) == present {
                return Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// One failed password login from `from` (bound as source address) to `to`.
    fn fail_login(&self, from: &str, to: &str) {
        let out = run(&[
            "ip",
            "netns",
            "exec",
            &self.atk,
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
            "-b",
            from,
            &format!("root@{to}"),
            "true",
        ]);
        assert!(!out.status.success(), "a wrong password logged in?");
    }

    /// Does a new TCP connection from `from` to sshd get an answer (a banner) within 2 s?
    fn tcp_answers(&self, from: &str, to: &str) -> bool {
        let out = run(&[
            "ip",
            "netns",
            "exec",
            &self.atk,
            "ssh",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=2",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-b",
            from,
            &format!("root@{to}"),
            "true",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        // BatchMode without keys ends in "Permission denied" once the server answered.
        err.contains("Permission denied")
    }
}

fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some("needs root (network namespaces, nft)".into());
    }
    let missing = missing_tools();
    if !missing.is_empty() {
        // As root in CI these must be installed: fail rather than silently pass.
        panic!(
            "missing tools for the e2e test: {missing:?} (apt-get install openssh-server openssh-client sshpass nftables iproute2)"
        );
    }
    None
}

#[test]
fn bans_real_sshd_attackers_in_nftables_and_survives_kill_9() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping guard e2e: {why}");
        return;
    }
    let mut lab = Lab::new("a");
    lab.start_sshd();
    lab.write_guard_config("");
    lab.start_guard();

    // The whitelisted address fails more than maxretry times and is never banned.
    for _ in 0..MAXRETRY + 1 {
        lab.fail_login(FRIEND4, SERVER4);
        lab.fail_login(FRIEND6, SERVER6);
    }

    // IPv4: one failure short of maxretry is not a ban; the maxretry-th is, in sshd_v4 within 1 s.
    for _ in 0..MAXRETRY - 1 {
        lab.fail_login(ATTACKER4, SERVER4);
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !lab.set("sshd_v4").contains(&ATTACKER4.to_string()),
        "banned before maxretry:\n{}",
        lab.sshd_log()
    );
    lab.fail_login(ATTACKER4, SERVER4);
    let latency4 = lab.wait_in_set("sshd_v4", ATTACKER4, true, Duration::from_secs(5));
    let Some(latency4) = latency4 else {
        panic!(
            "{ATTACKER4} not banned.\nsshd log:\n{}\nguard log:\n{}",
            lab.sshd_log(),
            lab.guard_log()
        )
    };
    eprintln!("ban latency v4 (last failed login returned -> element in sshd_v4): {latency4:?}");
    assert!(latency4 < Duration::from_secs(1), "took {latency4:?}");
    let t = Instant::now();
    assert!(
        !lab.tcp_answers(ATTACKER4, SERVER4),
        "banned address still connects"
    );
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "the connection must time out, not be refused"
    );

    // IPv6, the same.
    for _ in 0..MAXRETRY {
        lab.fail_login(ATTACKER6, SERVER6);
    }
    let latency6 = lab
        .wait_in_set("sshd_v6", ATTACKER6, true, Duration::from_secs(5))
        .expect("v6 attacker banned");
    eprintln!("ban latency v6: {latency6:?}");
    assert!(latency6 < Duration::from_secs(1), "took {latency6:?}");
    assert!(
        !lab.tcp_answers(ATTACKER6, SERVER6),
        "banned v6 address still connects"
    );

    // The friends were never banned and still reach sshd.
    assert!(!lab.set("sshd_v4").contains(&FRIEND4.to_string()));
    assert!(!lab.set("sshd_v6").contains(&FRIEND6.to_string()));
    assert!(lab.tcp_answers(FRIEND4, SERVER4));
    assert!(lab.tcp_answers(FRIEND6, SERVER6));

    // Status shows both bans.
    let status = lab.status_json();
    let banned: Vec<&str> = status["banned"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["ip"].as_str())
        .collect();
    assert!(
        banned.contains(&ATTACKER4) && banned.contains(&ATTACKER6),
        "{status}"
    );
    assert_eq!(status["currently_banned"], 2);
    assert!(status["total_failed"].as_u64().unwrap() >= 2 * MAXRETRY as u64);
    let text = String::from_utf8_lossy(&lab.cli(&["status", "sshd"]).stdout).into_owned();
    assert!(
        text.starts_with("Status for the jail: sshd\n|- Filter\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("`- Banned IP list:\t{ATTACKER4} {ATTACKER6}")),
        "{text}"
    );
    let remaining_before = status["banned"][0]["remaining"].as_i64().unwrap();

    // kill -9: the kernel keeps the bans; a restart restores them for their remaining time.
    lab.kill9_guard();
    assert!(
        lab.set("sshd_v4").contains(&ATTACKER4.to_string()),
        "kernel lost the ban with the daemon"
    );
    std::thread::sleep(Duration::from_millis(1100));
    let t = Instant::now();
    lab.start_guard();
    eprintln!("restart to ready (2 bans restored): {:?}", t.elapsed());
    let status = lab.status_json();
    assert_eq!(status["currently_banned"], 2, "{status}");
    let remaining_after = status["banned"][0]["remaining"].as_i64().unwrap();
    assert!(
        remaining_after < remaining_before && remaining_after > 3500,
        "{remaining_before} -> {remaining_after}"
    );
    let kernel_left = lab
        .kernel_expires("sshd_v4", ATTACKER4)
        .expect("timeout on the restored element");
    assert!(
        kernel_left <= remaining_after as u64 + 1 && kernel_left > 3500,
        "kernel says {kernel_left}s left"
    );
    assert!(
        !lab.tcp_answers(ATTACKER4, SERVER4),
        "restored ban does not hold"
    );

    // nftables.service's reload runs `flush ruleset`, which takes our table too: `guard reload` (what
    // portcullis-guard-nft.service runs) puts it back with every ban.
    let flush = [
        "ip",
        "netns",
        "exec",
        lab.srv.as_str(),
        "nft",
        "flush",
        "ruleset",
    ];
    must(&flush);
    assert!(lab.set("sshd_v4").is_empty());
    let out = lab.cli(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        lab.set("sshd_v4").contains(&ATTACKER4.to_string()),
        "reload did not restore sshd_v4"
    );
    assert!(
        lab.set("sshd_v6").contains(&ATTACKER6.to_string()),
        "reload did not restore sshd_v6"
    );
    // Flushed again with nobody reloading: the next ban batch fails, and the daemon re-creates the
    // table with every ban on its own.
    must(&flush);
    assert!(
        lab.cli(&["ban", "sshd", "198.51.100.9", "--for", "1h"])
            .status
            .success()
    );
    let back = lab.wait_in_set("sshd_v4", ATTACKER4, true, Duration::from_secs(5));
    assert!(
        back.is_some(),
        "table not re-created after a failed batch:\n{}",
        lab.guard_log()
    );
    assert!(lab.set("sshd_v4").contains(&"198.51.100.9".to_string()));
    assert!(lab.cli(&["unban", "198.51.100.9"]).status.success());

    // Only root may use the control socket: the file is 0600, and even when opened up the daemon
    // checks the peer's credentials.
    let as_nobody = || {
        Command::new(BIN)
            .uid(65534)
            .gid(65534)
            .args(["guard", "status", "--socket", &lab.p("guard.sock")])
            .output()
            .unwrap()
    };
    assert!(
        !as_nobody().status.success(),
        "nobody could use the control socket"
    );
    std::fs::set_permissions(
        lab.path("guard.sock"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    let out = as_nobody();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("for root only"), "{err}");

    // unban lifts it in the kernel and in the state.
    assert!(lab.cli(&["unban", ATTACKER4]).status.success());
    assert!(
        lab.wait_in_set("sshd_v4", ATTACKER4, false, Duration::from_secs(2))
            .is_some()
    );
    assert!(
        lab.tcp_answers(ATTACKER4, SERVER4),
        "unbanned address still blocked"
    );
    assert_eq!(lab.status_json()["currently_banned"], 1);

    // A short ban expires in the kernel by itself, even with the daemon dead.
    let out = lab.cli(&["ban", "sshd", "198.51.100.7", "--for", "2s"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lab.set("sshd_v4").contains(&"198.51.100.7".to_string()));
    lab.kill9_guard();
    let gone = lab.wait_in_set("sshd_v4", "198.51.100.7", false, Duration::from_secs(6));
    assert!(gone.is_some(), "2 s ban still in the kernel after 6 s");
    assert!(
        lab.set("sshd_v6").contains(&ATTACKER6.to_string()),
        "the 1 h ban must stay"
    );
}

#[test]
fn bad_config_stops_the_daemon_with_file_line_col() {
    let dir = std::env::temp_dir().join(format!("pc-badcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("guard.toml");
    std::fs::write(
        &cfg,
        "[guard]\nbackend = \"dry-run\"\n\n[guard.jails.sshd]\nbantime = \"1 fortnight\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args([
            "guard",
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--state-dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{}:5:11:", cfg.display())), "{err}");
    assert!(
        !Path::new(&dir.join("guard.sqlite3")).exists(),
        "started anyway"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
