//! guard benchmarks (see README.md beside this file). Run as root: `cargo bench --bench guard`.
//!
//! The process moves itself into a fresh network namespace first (unshare), so every nft command it
//! and the daemons it starts run touches only that namespace, which vanishes when the bench exits.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portcullis::firewall::nft::{self, Nft};
use portcullis::firewall::{BanSet, Driver, Op, Scope};
use portcullis::guard::config;
use portcullis::guard::daemon::Daemon;
use portcullis::guard::jail::{Ban, IgnoreList};
use portcullis::guard::state::{self, Batch, State};

const BIN: &str = env!("CARGO_BIN_EXE_portcullis");
const N: usize = 100_000;

/// 2001:db8::/32 (documentation) addresses, distinct for i < 2^32.
fn addr(i: usize) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0x1,
        0,
        0,
        0,
        (i >> 16) as u16,
        i as u16,
    ))
}

fn set_len(set: &str) -> usize {
    nft::list_set("nft", set).map(|v| v.len()).unwrap_or(0)
}

struct Work(PathBuf);

impl Drop for Work {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config_text(work: &Path, log: &Path, jail: &str) -> String {
    format!(
        "[guard]\nbackend = \"nftables\"\nignoreself = false\nignoreip = []\nstate_dir = \"{}\"\nsocket = \"{}\"\n\
         [guard.jails.sshd]\nlogpath = [\"{}\"]\n{jail}",
        work.join("state").display(),
        work.join("guard.sock").display(),
        log.display()
    )
}

fn start_daemon(work: &Path, cfg: &str) -> Child {
    let path = work.join("guard.toml");
    std::fs::write(&path, cfg).unwrap();
    let child = Command::new(BIN)
        .args(["guard", "run", "--config", path.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(work);
    child
}

/// Ready once the control socket answers (the jail list: cheap, unlike a status with 100k bans).
fn wait_ready(work: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let sock = work.join("guard.sock");
    let answers = || {
        Command::new(BIN)
            .args(["guard", "status", "--socket", sock.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    while !answers() {
        assert!(Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn status(work: &Path) -> Option<serde_json::Value> {
    let out = Command::new(BIN)
        .args([
            "guard",
            "status",
            "sshd",
            "--short",
            "--json",
            "--socket",
            work.join("guard.sock").to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).ok())?
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn proc_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn bench_bans(work: &Path) {
    let mut drv = Nft::new(128);
    let sets = [BanSet {
        name: "sshd".into(),
        scope: Scope::AllPorts,
    }];
    drv.setup(&sets, &[]).unwrap();
    let ops: Vec<Op> = (0..N)
        .map(|i| Op::Add {
            set: 0,
            net: addr(i).into(),
            seconds: 3600,
            replace: false,
        })
        .collect();
    let t = Instant::now();
    drv.apply(&ops).unwrap();
    let add = t.elapsed();
    assert_eq!(set_len("sshd_v6"), N);
    let removes: Vec<Op> = (0..N)
        .map(|i| Op::Remove {
            set: 0,
            net: addr(i).into(),
        })
        .collect();
    let t = Instant::now();
    drv.apply(&removes).unwrap();
    let remove = t.elapsed();
    assert_eq!(set_len("sshd_v6"), 0);
    println!(
        "| {N} bans added, one `nft -f -` transaction | {:.0} ms |",
        add.as_secs_f64() * 1e3
    );
    println!(
        "| {N} bans lifted, one transaction | {:.0} ms |",
        remove.as_secs_f64() * 1e3
    );

    // Restore: 100k unexpired bans in the state, then the daemon's start-up path (read, restore, load).
    let now = jiff::Timestamp::now().as_second();
    std::fs::create_dir_all(work.join("state")).unwrap();
    let mut st = State::open(&work.join("state").join(state::DB_FILE)).unwrap();
    let bans = (0..N)
        .map(|i| {
            let ban = Ban {
                net: addr(i).into(),
                start: now - 60,
                end: now + 3600,
                count: 1,
                failures: 3,
            };
            ("sshd".to_string(), ban)
        })
        .collect();
    st.save(&Batch {
        bans,
        ..Default::default()
    })
    .unwrap();
    drop(st);
    let log = work.join("auth.log");
    std::fs::write(&log, "").unwrap();
    let cfg = config::parse_str(&config_text(work, &log, ""), Path::new("bench.toml")).unwrap();
    let t = Instant::now();
    let st = State::open(&work.join("state").join(state::DB_FILE)).unwrap();
    let d = Daemon::new(
        cfg,
        Box::new(Nft::new(128)),
        st,
        IgnoreList::default(),
        false,
        now,
    )
    .unwrap();
    let restore = t.elapsed();
    drop(d);
    assert_eq!(set_len("sshd_v6"), N);
    println!(
        "| restore {N} bans (SQLite read + jail + one nft transaction) | {:.0} ms |",
        restore.as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let child = start_daemon(work, &config_text(work, &log, ""));
    let ready = t.elapsed();
    let banned = status(work)
        .map(|s| s["currently_banned"].as_u64().unwrap_or(0))
        .unwrap_or(0);
    assert_eq!(banned as usize, N);
    stop(child);
    println!(
        "| `guard run` start to answering, {N} bans restored | {:.0} ms |",
        ready.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(work.join("state"));
}

fn bench_latency(work: &Path) {
    let log = work.join("lat.log");
    std::fs::write(&log, "").unwrap();
    let child = start_daemon(
        work,
        &config_text(work, &log, "maxretry = 1\nbantime = \"10m\"\n"),
    );
    let mut monitor = Command::new("nft")
        .args(["monitor", "new", "elements"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let out = monitor.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut file = OpenOptions::new().append(true).open(&log).unwrap();
    let mut lat = Vec::new();
    for i in 0..300 {
        let ip = addr(1_000_000 + i);
        let line = format!("Failed password for root from {ip} port 22 ssh2\n");
        let t = Instant::now();
        file.write_all(line.as_bytes()).unwrap();
        let needle = ip.to_string();
        let seen = loop {
            match rx.recv_timeout(Duration::from_secs(5)) {
                Ok((at, text)) if text.contains(&format!(" {needle} ")) => break Some(at),
                Ok(_) => continue,
                Err(_) => break None,
            }
        };
        lat.push(seen.expect("ban never showed up").duration_since(t));
        std::thread::sleep(Duration::from_millis(10));
    }
    stop(child);
    let _ = monitor.kill();
    let _ = monitor.wait();
    lat.sort();
    let pct = |p: f64| {
        lat[((lat.len() as f64 * p).ceil() as usize).min(lat.len()) - 1].as_secs_f64() * 1e3
    };
    println!(
        "| line appended → element in the set ({} samples, `nft monitor`) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        lat.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    let _ = std::fs::remove_dir_all(work.join("state"));
}

fn bench_rss(work: &Path) {
    let generator =
        std::env::var("GEN_AUTHLOG").unwrap_or_else(|_| "/work/shared/bench/gen-authlog.py".into());
    let lines: usize = std::env::var("REF_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let reference = work.join("reference.log");
    let ok = Command::new("python3")
        .arg(&generator)
        .arg(lines.to_string())
        .stdout(std::fs::File::create(&reference).unwrap())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("| reference workload | skipped: cannot run {generator} (set GEN_AUTHLOG) |");
        return;
    }
    let log = work.join("ref-auth.log");
    std::fs::write(&log, "").unwrap();
    // The workload's timeline is in January: a findtime of 50 weeks keeps every address in its window.
    let jail = "maxretry = 5\nfindtime = \"50w\"\nbantime = \"1h\"\n";
    let child = start_daemon(work, &config_text(work, &log, jail));
    let pid = child.id();
    let idle_rss = proc_kb(pid, "VmRSS:");
    let data = std::fs::read(&reference).unwrap();
    let mut file = OpenOptions::new().append(true).open(&log).unwrap();
    let t = Instant::now();
    for chunk in data.chunks(1 << 20) {
        file.write_all(chunk).unwrap();
    }
    let mut peak_rss = 0;
    let status = loop {
        peak_rss = peak_rss.max(proc_kb(pid, "VmRSS:"));
        let s = status(work).unwrap();
        if s["lines"].as_u64().unwrap_or(0) as usize >= lines {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(600),
            "workload not processed: {s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = t.elapsed();
    std::thread::sleep(Duration::from_millis(500));
    let steady = proc_kb(pid, "VmRSS:");
    let hwm = proc_kb(pid, "VmHWM:");
    stop(child);
    println!(
        "| reference workload: {lines} lines through the file source | {:.2} s ({:.0} lines/s) |",
        took.as_secs_f64(),
        lines as f64 / took.as_secs_f64()
    );
    println!(
        "| addresses tracked after it (failing + banned) | {} + {} |",
        status["currently_failed"], status["currently_banned"]
    );
    println!(
        "| RSS: idle {:.1} MB, steady after the workload {:.1} MB, peak (VmHWM) {:.1} MB | |",
        idle_rss as f64 / 1024.0,
        steady as f64 / 1024.0,
        hwm.max(peak_rss) as f64 / 1024.0
    );
}

fn main() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("guard bench: skipped, needs root (network namespace, nft)");
        return;
    }
    // `cargo test --all-targets` runs bench targets too, without `--bench`: only `cargo bench` measures.
    if std::env::args().any(|a| a == "--list") || !std::env::args().any(|a| a == "--bench") {
        println!("guard bench: run it with `cargo bench --bench guard`");
        return;
    }
    // SAFETY: single-threaded here; moves this process (and its children) into a new network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        panic!("unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
    }
    let _ = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    let work = Work(std::env::temp_dir().join(format!("pc-bench-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&work.0);
    std::fs::create_dir_all(&work.0).unwrap();
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    println!("| measure | result |\n|---|---|");
    if only.as_deref().is_none_or(|o| o == "bans") {
        bench_bans(&work.0);
    }
    if only.as_deref().is_none_or(|o| o == "latency") {
        bench_latency(&work.0);
    }
    if only.as_deref().is_none_or(|o| o == "rss") {
        bench_rss(&work.0);
    }
}
