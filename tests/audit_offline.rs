//! `audit --root` on an offline image: this machine's own root filesystem seen without /proc, /sys or /run
//! (an overlay whose lower layer is `/` alone, in a private mount namespace; every write lands in a temp dir),
//! with a few persisted settings added. Each check must judge what the image will do at boot.

mod audit_common;
mod root_check;

use std::process::Command;

use audit_common::checks;
use serde_json::Value;

/// Builds the image, writes the settings and audits it; returns the JSON report.
fn audit_image(extra_setup: &str) -> Value {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let tmp = std::env::temp_dir().join(format!("portcullis-offline-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let script = r#"
set -eu
mount --make-rprivate /
mkdir -p "$T/upper" "$T/work" "$T/img"
# The lower layer is the root filesystem only: /proc, /sys, /dev and /run are separate mounts, not in it.
mount -t overlay overlay -o "lowerdir=/,upperdir=$T/upper,workdir=$T/work" "$T/img"
I="$T/img"
test ! -e "$I/proc/sys/kernel"
mkdir -p "$I/etc/sysctl.d"
printf 'kernel.kptr_restrict = 2\nnet.ipv4.conf.all.rp_filter = 0\n' > "$I/etc/sysctl.d/90-hardening.conf"
# A later file wins, as systemd-sysctl applies them.
printf 'kernel.dmesg_restrict = 0\n' > "$I/etc/sysctl.d/10-early.conf"
printf 'kernel.dmesg_restrict = 1\n' > "$I/etc/sysctl.d/95-late.conf"
grep -v '[[:space:]]/dev/shm[[:space:]]' /etc/fstab > "$I/etc/fstab" || true
echo 'tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec,mode=1777 0 0' >> "$I/etc/fstab"
mkdir -p "$I/etc/systemd/system/multi-user.target.wants"
ln -sf /lib/systemd/system/ssh.service "$I/etc/systemd/system/multi-user.target.wants/ssh.service"
eval "$EXTRA"
"$BIN" audit --root "$I" --json > "$T/report.json" || test $? -eq 1
"#;
    let out = Command::new("unshare")
        .args(["--mount", "bash", "-c", script])
        .env("BIN", env!("CARGO_BIN_EXE_portcullis"))
        .env("T", &tmp)
        .env("EXTRA", extra_setup)
        .output()
        .expect("unshare");
    let report = std::fs::read_to_string(tmp.join("report.json"));
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&report.unwrap()).unwrap()
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    checks(report)
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))
}

fn assert_check(report: &Value, id: &str, status: &str, evidence: &str) {
    let c = check(report, id);
    let ev = c["evidence"].to_string();
    assert_eq!(c["status"], status, "{id}: {ev}");
    assert!(
        ev.contains(evidence),
        "{id}: evidence lacks {evidence:?}: {ev}"
    );
}

#[test]
fn an_offline_image_is_judged_on_what_it_will_do_at_boot() {
    if !root_check::running_as_root() {
        eprintln!("skipped: needs root (mount namespace and overlayfs)");
        return;
    }
    let report = audit_image("");
    let all = checks(&report);
    let errors: Vec<String> = all
        .iter()
        .filter(|c| c["status"] == "error")
        .map(|c| c.to_string())
        .collect();
    assert!(errors.is_empty(), "checks in error:\n{}", errors.join("\n"));
    let offline = "judged on persisted configuration";
    for c in all
        .iter()
        .filter(|c| c["id"].as_str().unwrap().starts_with("sysctl."))
    {
        let ev = c["evidence"].to_string();
        assert!(ev.contains(offline), "{}: {ev}", c["id"]);
        assert!(!ev.contains("does not exist on this kernel"), "{ev}");
    }
    assert_check(
        &report,
        "sysctl.kernel.kptr_restrict",
        "pass",
        "at boot: kernel.kptr_restrict = 2 (/etc/sysctl.d/90-hardening.conf:1)",
    );
    assert_check(
        &report,
        "sysctl.net.ipv4.conf.all.rp_filter",
        "fail",
        "/etc/sysctl.d/90-hardening.conf:2",
    );
    assert_check(
        &report,
        "sysctl.kernel.dmesg_restrict",
        "pass",
        "(/etc/sysctl.d/95-late.conf:1)",
    );
    assert_check(
        &report,
        "mounts.shm",
        "pass",
        "at boot: /dev/shm rw,nosuid,nodev,noexec",
    );
    if std::path::Path::new("/usr/sbin/sshd").exists() {
        assert_check(
            &report,
            "net.ssh-listening",
            "pass",
            "ssh.service is enabled",
        );
    } else {
        assert_check(&report, "net.ssh-listening", "skip", "not installed");
    }
    assert_check(&report, "net.exposed", "skip", offline);
}

#[test]
fn offline_forces_persisted_judgement_even_where_proc_exists() {
    // The fixture has a recorded /proc; --offline ignores it.
    let (_, report) = audit_common::audit_json(&[
        "--root",
        audit_common::fixture("hardened").to_str().unwrap(),
        "--offline",
    ]);
    let c = check(&report, "sysctl.kernel.kptr_restrict");
    assert!(
        c["evidence"]
            .to_string()
            .contains("judged on persisted configuration"),
        "{c}"
    );
}

/// The boot ruleset: /etc/nftables.conf with an include, loaded only when nftables.service is enabled.
const NFT_SETUP: &str = r#"
mkdir -p "$I/etc/portcullis"
cat > "$I/etc/nftables.conf" <<'NFT'
#!/usr/sbin/nft -f
flush ruleset
include "/etc/portcullis/firewall.nft"
NFT
cat > "$I/etc/portcullis/firewall.nft" <<'NFT'
table inet portcullis-fw {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
		tcp dport { 22 } accept comment "ssh"
	}
}
NFT
"#;

#[test]
fn the_firewall_of_an_image_is_the_ruleset_its_boot_loads() {
    if !root_check::running_as_root() {
        eprintln!("skipped: needs root (mount namespace and overlayfs)");
        return;
    }
    let enabled = format!(
        "{NFT_SETUP}\nmkdir -p \"$I/etc/systemd/system/sysinit.target.wants\"\n\
         ln -sf /lib/systemd/system/nftables.service \"$I/etc/systemd/system/sysinit.target.wants/nftables.service\"\n"
    );
    let report = audit_image(&enabled);
    assert_check(&report, "firewall.active", "pass", "as loaded at boot");
    assert_check(&report, "firewall.default-deny", "pass", "");
    assert_check(&report, "firewall.ssh-allowed", "pass", "");
    // The same files, but nothing loads them at boot.
    let disabled = format!(
        "{NFT_SETUP}\nrm -f \"$I/etc/systemd/system/sysinit.target.wants/nftables.service\"\n"
    );
    let report = audit_image(&disabled);
    assert_check(&report, "firewall.active", "fail", "not enabled at boot");
}
