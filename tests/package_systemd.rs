//! The .deb and the static tarball as users get them (`scripts/package.sh` builds both into
//! target/dist): installed with dpkg into a booted Debian (the nspawn lab of tests/nspawn_lab, an
//! overlay over this machine's `/`, so nothing here is installed), both units running hardened, bans
//! surviving `systemctl reload nftables` and an upgrade, remove and purge leaving what they should;
//! and the musl binary reporting what the glibc one does.

mod nspawn_lab;
mod root_check;
mod shell;

use nspawn_lab::{Boot, Machine, Sshd, skip_reason};
use std::path::{Path, PathBuf};
use std::process::Command;

fn dist() -> PathBuf {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dist");
    let has = |suffix: &str| {
        std::fs::read_dir(&dist)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(suffix))
    };
    assert!(
        has("_amd64.deb") && has("-x86_64-linux-musl.tar.gz"),
        "no package in {}: run scripts/package.sh first (scripts/test.sh does)",
        dist.display()
    );
    dist
}

fn check(what: &str, ok: bool) {
    assert!(ok, "check failed: {what}");
    eprintln!("CHECK {what}");
}

/// `systemd-analyze security UNIT`'s overall exposure, from its last line.
fn exposure(m: &Machine, unit: &str) -> f64 {
    let out = m.ok(&format!(
        "systemd-analyze security --no-pager {unit} | grep 'Overall exposure level'"
    ));
    let after = out.split_once(".service:").map_or("", |(_, a)| a);
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure in {out:?}"))
}

const IN_SET: &str = "nft list set inet portcullis sshd_v4 | has";

#[test]
fn deb_installs_hardened_units_that_ban_and_keep_bans_until_removed() {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return;
    }
    let dist = dist();
    let m = Machine::boot(Boot {
        sshd: Sshd::Service,
        bin: None,
        share: Some(&dist),
    });
    // Container images often carry a policy-rc.d that stops maintainer scripts from starting units;
    // a rented server has none.
    m.ok("rm -f /usr/sbin/policy-rc.d; ! command -v portcullis; dpkg -i /mnt/host/portcullis_*_amd64.deb");
    m.wait_for(
        "both units active",
        "systemctl is-active --quiet portcullis-guard.service portcullis-guard-nft.service",
        std::time::Duration::from_secs(20),
    );
    let user = m.ok("ps -o user= -p \"$(systemctl show -p MainPID --value portcullis-guard)\"");
    check(
        "daemon runs as user portcullis",
        user.trim() == "portcullis",
    );
    let (guard, nft) = (
        exposure(&m, "portcullis-guard.service"),
        exposure(&m, "portcullis-guard-nft.service"),
    );
    eprintln!("exposure: guard {guard}, nft helper {nft}");
    check("guard exposure <= 1.5", guard <= 1.5);
    check("nft helper exposure <= 1.0", nft <= 1.0);

    // A journal ban under the hardened unit: the default install reads sshd from the journal.
    m.ok("for i in 1 2 3 4 5 6; do logger -t sshd -p auth.info \"Failed password for root from 198.51.100.23 port 4$i ssh2\"; done");
    m.wait_for(
        "journal ban",
        &format!("{IN_SET} 198.51.100.23"),
        std::time::Duration::from_secs(15),
    );
    check("ban from the journal under the hardened unit", true);
    m.ok("pc guard ban sshd 192.0.2.77 --for 1h");
    m.ok(&format!("{IN_SET} 192.0.2.77"));

    // nftables.service's `flush ruleset` removes our table; the helper puts it back.
    m.ok("systemctl start nftables.service && systemctl reload nftables.service");
    m.wait_for(
        "bans back after nftables reload",
        &format!("{IN_SET} 192.0.2.77 && {IN_SET} 198.51.100.23"),
        std::time::Duration::from_secs(10),
    );
    check("bans survive systemctl reload nftables", true);

    // The package again (dpkg's upgrade path): the daemon restarts and keeps its bans.
    let before = m.ok("systemctl show -p MainPID --value portcullis-guard");
    m.ok("dpkg -i /mnt/host/portcullis_*_amd64.deb");
    m.wait_for(
        "daemon restarted by the upgrade",
        &format!(
            "systemctl is-active --quiet portcullis-guard && [ \"$(systemctl show -p MainPID --value portcullis-guard)\" != {} ]",
            before.trim()
        ),
        std::time::Duration::from_secs(20),
    );
    m.ok(&format!("{IN_SET} 192.0.2.77"));
    check("bans kept over an upgrade", true);

    // The metrics textfile under the read-only filesystem: ReadWritePaths= and group write access.
    m.ok("mkdir -p /var/lib/prometheus/node-exporter /etc/portcullis && chgrp portcullis /var/lib/prometheus/node-exporter \
          && chmod 775 /var/lib/prometheus/node-exporter \
          && printf '[guard.metrics]\\ntextfile = \"/var/lib/prometheus/node-exporter/portcullis.prom\"\\n' > /etc/portcullis/portcullis.toml \
          && systemctl restart portcullis-guard");
    m.wait_for(
        "metrics textfile written",
        "has portcullis_guard_bans_total < /var/lib/prometheus/node-exporter/portcullis.prom",
        std::time::Duration::from_secs(25),
    );
    m.ok(&format!("{IN_SET} 192.0.2.77"));
    check("metrics textfile written under the hardened unit", true);

    // What the package ships beside the binary.
    m.ok("man -P cat portcullis-guard-run 2>/dev/null | has 'portcullis-guard-run'");
    m.ok("bash -c 'source /usr/share/bash-completion/completions/portcullis; complete -p portcullis' | has _portcullis");
    m.ok("rc=0; portcullis audit --json > /tmp/a.json || rc=$?; [ $rc -le 1 ] && has \"checks\" < /tmp/a.json");
    check("man page, completion, audit", true);

    // remove: no table left, the units stopped. purge: guard state gone, apply's backups kept.
    m.ok("mkdir -p /var/lib/portcullis/txn/kept && dpkg -r portcullis");
    m.ok("! nft list table inet portcullis 2>/dev/null && ! systemctl is-active --quiet portcullis-guard");
    check("remove deletes the ban table", true);
    m.ok("test -d /var/lib/portcullis-guard && dpkg -P portcullis");
    m.ok("test ! -e /var/lib/portcullis-guard && test -d /var/lib/portcullis/txn/kept && ! dpkg -s portcullis 2>/dev/null");
    check(
        "purge removes guard state and keeps apply's transactions",
        true,
    );
}

#[test]
fn the_musl_binary_reports_what_the_glibc_build_does() {
    let dist = dist();
    let tarball = std::fs::read_dir(&dist)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-x86_64-linux-musl.tar.gz"))
        .unwrap();
    let sums = std::fs::read_to_string(format!("{}.sha256", tarball.display())).unwrap();
    let ok = Command::new("sha256sum")
        .arg("--check")
        .arg("--status")
        .current_dir(&dist)
        .stdin(std::fs::File::open(format!("{}.sha256", tarball.display())).unwrap())
        .status()
        .unwrap();
    assert!(ok.success(), "checksum does not match: {sums}");
    let tmp = std::env::temp_dir().join(format!("portcullis-musl-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    shell::sh(&[
        "tar",
        "-xzf",
        &tarball.to_string_lossy(),
        "-C",
        &tmp.to_string_lossy(),
    ]);
    let dir = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    for f in [
        "portcullis",
        "portcullis-guard.service",
        "portcullis-guard-nft.service",
        "portcullis.sysusers",
        "man/portcullis-guard-run.1",
        "completions/portcullis.bash",
        "completions/_portcullis",
        "completions/portcullis.fish",
    ] {
        assert!(dir.join(f).exists(), "{f} missing in the tarball");
    }
    let musl = dir.join("portcullis");
    let file = Command::new("file").arg("-b").arg(&musl).output().unwrap();
    let file = String::from_utf8_lossy(&file.stdout);
    assert!(file.contains("static"), "not static: {file}");

    let log = tmp.join("auth.log");
    let generator = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen-authlog.py");
    let out = Command::new("python3")
        .arg(&generator)
        .args(["50000", "--seed", "7"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&log, &out.stdout).unwrap();
    let run = |bin: &Path, mode: &str| {
        let out = Command::new(bin)
            .args(["guard", "test", "--json", "--mode", mode])
            .arg(&log)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // Timings differ by nature; everything matched must not.
        if let Some(o) = v.as_object_mut() {
            o.remove("elapsed_s");
            o.remove("lines_per_s");
        }
        v
    };
    let glibc = Path::new(env!("CARGO_BIN_EXE_portcullis"));
    for mode in ["normal", "aggressive"] {
        let (a, b) = (run(glibc, mode), run(&musl, mode));
        assert_eq!(a, b, "musl and glibc differ in mode {mode}");
        assert!(a["failures"].as_u64().unwrap() > 1000, "{a}");
    }
    std::fs::remove_dir_all(&tmp).unwrap();
}
