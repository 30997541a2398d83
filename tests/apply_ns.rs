//! End-to-end apply tests against a real sshd and nft inside namespaces (see tests/apply_lab).

mod apply_lab;

use apply_lab::{Lab, skip_reason};

fn lab_or_skip() -> Option<Lab> {
    if let Some(why) = skip_reason() {
        eprintln!("skipped: {why}");
        return None;
    }
    Some(Lab::new())
}

fn assert_ok(lab: &Lab, body: &str) -> String {
    let (ok, out) = lab.run(body);
    assert!(ok, "scenario failed:\n{out}");
    out
}

#[test]
fn fresh_server_gets_admin_key_login_on_2222_and_nothing_else() {
    let Some(lab) = lab_or_skip() else { return };
    let out = assert_ok(
        &lab,
        r#"
start_sshd
fresh_profile
pcp apply --yes --confirm-timeout 120s --state-dir "$T/state"
lap_ssh 2222 admin && echo "CHECK admin key login on 2222 works"
# Password login is not even offered; root is refused even with a valid key.
echo "root:$(head -c 12 /dev/urandom | base64)" | chpasswd
mkdir -p /root/.ssh && cp "$T/adminkey.pub" /root/.ssh/authorized_keys
if lap_ssh 2222 root 2>"$T/root.err"; then echo "root login worked"; exit 1; fi
echo "CHECK root login refused"
if nsenter --net="$T/lapns" sshpass -p wrong ssh -F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
   -o PubkeyAuthentication=no -o ConnectTimeout=3 -p 2222 admin@192.0.2.1 true 2>"$T/pw.err"; then exit 1; fi
grep -q 'Permission denied (publickey)' "$T/pw.err" && echo "CHECK password login not offered"
# The old port stays open in the firewall until confirmed.
nft list table inet portcullis-fw | grep -q 'tcp dport { 22, 2222 }' && echo "CHECK old port kept open"
pc confirm
if nsenter --net="$T/lapns" timeout 5 bash -c 'exec 3<>/dev/tcp/192.0.2.1/22' 2>/dev/null; then echo "22 open"; exit 1; fi
echo "CHECK port 22 closed after confirm"
rm /root/.ssh/authorized_keys
pcp plan --json > "$T/plan2.json"
grep -q '"changes": \[\]' "$T/plan2.json" && echo "CHECK second plan empty" || { cat "$T/plan2.json"; exit 1; }
pc history
"#,
    );
    eprintln!("{out}");
    for check in [
        "admin key login on 2222 works",
        "root login refused",
        "password login not offered",
        "old port kept open",
        "port 22 closed after confirm",
        "second plan empty",
    ] {
        assert!(
            out.contains(&format!("CHECK {check}")),
            "missing {check}:\n{out}"
        );
    }
}
