//! [ssh]: our values in `00-portcullis.conf`, read first because sshd keeps the first value it sees; the
//! `Include` line added when the distro's config lacks it; conflicting lines elsewhere commented out.

use crate::host::snapshot::Snapshot;
use crate::host::sshd::split_line;
use crate::profile::{Crypto, Profile};

use super::change::{KeepOpen, file_change};
use super::{Plan, ROOT_OWNER, Step};

pub const MAIN: &str = "/etc/ssh/sshd_config";
pub const DROPIN_DIR: &str = "/etc/ssh/sshd_config.d";
pub const DROPIN: &str = "/etc/ssh/sshd_config.d/00-portcullis.conf";
const INCLUDE_LINE: &str = "Include /etc/ssh/sshd_config.d/*.conf";
/// Our ssh.socket drop-in. Drop-ins of all directories are read sorted by file name, so `zz-` comes after
/// the 24.04 generator's `addresses.conf` (in /run) and after `override.conf` from `systemctl edit`; a
/// different name also leaves a same-named file of the generator unmasked.
pub const SOCKET_DROPIN: &str = "/etc/systemd/system/ssh.socket.d/zz-portcullis.conf";
/// Prefix of a line we neutralised; rollback restores the file byte for byte, so this is only for readers.
pub const NEUTRALISED: &str = "#portcullis: ";

const HARDENED_KEX: &str = "curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256";
const HARDENED_CIPHERS: &str = "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr";
const HARDENED_MACS: &str =
    "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com";

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

/// (Keyword, value) pairs of the drop-in, in the order written.
pub fn settings(profile: &Profile) -> Vec<(&'static str, String)> {
    let s = &profile.ssh;
    let mut v: Vec<(&'static str, String)> = Vec::new();
    if let Some(port) = s.port {
        v.push(("Port", port.to_string()));
    }
    v.push(("PermitRootLogin", s.permit_root_login.as_sshd().into()));
    v.push(("PasswordAuthentication", yes(s.password_authentication)));
    v.push(("PubkeyAuthentication", yes(s.pubkey_authentication)));
    v.push(("KbdInteractiveAuthentication", yes(s.kbd_interactive)));
    v.push(("PermitEmptyPasswords", yes(s.permit_empty_passwords)));
    v.push(("X11Forwarding", yes(s.x11_forwarding)));
    v.push(("AllowAgentForwarding", yes(s.allow_agent_forwarding)));
    v.push(("AllowTcpForwarding", yes(s.allow_tcp_forwarding)));
    if let Some(k) = s.tcp_keepalive {
        v.push(("TCPKeepAlive", yes(k)));
    }
    if let Some(c) = s.compression {
        v.push(("Compression", yes(c)));
    }
    v.push(("AddressFamily", s.address_family.as_sshd().into()));
    v.push(("MaxAuthTries", s.max_auth_tries.to_string()));
    v.push(("LoginGraceTime", s.login_grace_time.to_string()));
    if !s.allow_users.is_empty() {
        v.push(("AllowUsers", s.allow_users.join(" ")));
    }
    if s.crypto == Crypto::Hardened {
        v.push(("KexAlgorithms", HARDENED_KEX.into()));
        v.push(("Ciphers", HARDENED_CIPHERS.into()));
        v.push(("MACs", HARDENED_MACS.into()));
    }
    v
}

/// Our sshd drop-in. During a commit-confirmed trial the ports sshd listened on before follow ours (`Port`
/// lines add up), so the old way in keeps working until `confirm` rewrites the file without them.
pub fn dropin_text(profile: &Profile, keep: &KeepOpen) -> String {
    let mut out = String::from(
        "# Written by portcullis from the [ssh] profile section; edit the profile, not this file.\n\
         # Named 00- so sshd reads it before any other drop-in (the first value wins).\n",
    );
    for (k, v) in settings(profile) {
        out.push_str(&format!("{k} {v}\n"));
        if k == "Port" {
            for old in keep.ports.iter().filter(|p| p.to_string() != v) {
                out.push_str(&format!(
                    "# Until `portcullis confirm`: the port in use before this change.\nPort {old}\n"
                ));
            }
        }
    }
    out
}

/// The text with every line outside `Match` blocks that sets one of our keywords to another value commented
/// out, and those lines (for the report). Lines that lose to ours anyway are neutralised too: a config where no
/// file silently overrides another is what the audit (ssh.dropin-conflict) and a human reader expect.
fn neutralise(text: &str, ours: &[(&'static str, String)]) -> (String, Vec<String>) {
    let mut out = String::new();
    let mut report = Vec::new();
    let mut in_match = false;
    for line in text.split_inclusive('\n') {
        let mut drop = false;
        if let Some((key, value)) = split_line(line) {
            in_match |= key.eq_ignore_ascii_case("match");
            if !in_match {
                drop = ours.iter().any(|(k, want)| {
                    k.eq_ignore_ascii_case(key) && !value.eq_ignore_ascii_case(want)
                });
            }
        }
        if drop {
            report.push(line.trim().to_string());
            out.push_str(NEUTRALISED);
        }
        out.push_str(line);
    }
    (out, report)
}

/// Whether `sshd -T`'s values for keyword `key` (lower case) mean what we wrote.
pub fn effective_matches(key: &str, want: &str, got: &[String]) -> bool {
    match key {
        // Port adds up: ours must be among them (the others were neutralised or come from Match-free defaults).
        "port" => got.iter().any(|p| p == want),
        _ => {
            let got = got.join(" ");
            // sshd -T prints prohibit-password under its old name.
            let alias = |v: &str| match v {
                "prohibit-password" => "without-password".to_string(),
                "delayed" => "yes".to_string(),
                other => other.to_ascii_lowercase(),
            };
            alias(&got) == alias(want)
        }
    }
}

/// The main file names the drop-in directory in an Include.
fn has_include(text: &str) -> bool {
    text.lines()
        .filter_map(split_line)
        .any(|(k, v)| k.eq_ignore_ascii_case("include") && v.contains("sshd_config.d"))
}

/// The ports ssh.socket must listen on: the profile's, plus (during a commit-confirmed trial) the ones in use
/// before, so the session that ran apply and a fallback login keep working until `confirm`.
pub fn socket_ports(new: u16, keep: &KeepOpen) -> Vec<u16> {
    let mut ports = vec![new];
    for p in &keep.ports {
        if !ports.contains(p) {
            ports.push(*p);
        }
    }
    ports
}

/// Our ssh.socket drop-in: the list reset, then one ListenStream per port (in the profile's address family).
pub fn socket_dropin_text(profile: &Profile, ports: &[u16], new: u16) -> String {
    use crate::profile::AddressFamily;
    let mut out = String::from(
        "# Written by portcullis from the [ssh] profile section; edit the profile, not this file.\n\
         # ssh.socket, not sshd_config, decides the SSH port under socket activation. Named zz- so it is read\n\
         # after every other drop-in; the empty ListenStream= drops the ports listed before it.\n\
         [Socket]\n\
         ListenStream=\n",
    );
    if profile.ssh.address_family == AddressFamily::Inet6 {
        out.push_str("BindIPv6Only=ipv6-only\n");
    }
    for p in ports {
        if *p != new {
            out.push_str("# Until `portcullis confirm`: the port in use before this change.\n");
        }
        match profile.ssh.address_family {
            AddressFamily::Inet => out.push_str(&format!("ListenStream=0.0.0.0:{p}\n")),
            AddressFamily::Inet6 => out.push_str(&format!("ListenStream=[::]:{p}\n")),
            AddressFamily::Any => out.push_str(&format!("ListenStream={p}\n")),
        }
    }
    out
}

/// With ssh.socket enabled, the port change goes into our drop-in (written when the socket's ports differ from
/// what we want, or when our drop-in exists: then it is kept in step with the profile).
fn plan_socket(profile: &Profile, snap: &Snapshot, keep: &KeepOpen, plan: &mut Plan) {
    let Some(new) = profile.ssh.port.filter(|_| snap.ssh_socket) else {
        return;
    };
    let ports = socket_ports(new, keep);
    let mut want = ports.clone();
    want.sort();
    let mut have = snap.ssh_socket_ports.clone();
    have.sort();
    if snap.file(SOCKET_DROPIN).is_none() && want == have {
        return;
    }
    let text = socket_dropin_text(profile, &ports, new);
    if let Some(c) = file_change(Step::Ssh, snap, SOCKET_DROPIN, text, 0o644, ROOT_OWNER) {
        plan.changes.push(c);
    }
    plan.notes.push((
        Step::Ssh,
        format!(
            "ssh.socket is enabled, so its ListenStream decides the port: {SOCKET_DROPIN} sets {}, then \
             `systemctl daemon-reload` and `systemctl restart ssh.socket` (open sessions are kept)",
            ports
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    ));
}

pub fn plan(profile: &Profile, snap: &Snapshot, keep: &KeepOpen, plan: &mut Plan) {
    let Some(main) = snap.text(MAIN) else {
        plan.notes.push((
            Step::Ssh,
            format!("{MAIN} not found: is openssh-server installed?"),
        ));
        return;
    };
    let ours = settings(profile);
    // The Include goes first, so our drop-in is read before anything in the main file.
    let main = if has_include(&main) {
        main
    } else {
        format!("{INCLUDE_LINE}\n{main}")
    };
    let (main_new, main_dropped) = neutralise(&main, &ours);
    let mode = snap.file(MAIN).map(|f| f.mode).unwrap_or(0o644);
    report(plan, MAIN, &main_dropped);
    if let Some(c) = file_change(Step::Ssh, snap, MAIN, main_new, mode, ROOT_OWNER) {
        plan.changes.push(c);
    }
    if let Some(c) = file_change(
        Step::Ssh,
        snap,
        DROPIN,
        dropin_text(profile, keep),
        0o644,
        ROOT_OWNER,
    ) {
        plan.changes.push(c);
    }
    for name in &snap.sshd_dropins {
        let path = format!("{DROPIN_DIR}/{name}");
        if path == DROPIN {
            continue;
        }
        let Some(f) = snap.file(&path) else { continue };
        let (new, dropped) = neutralise(&f.text(), &ours);
        report(plan, &path, &dropped);
        if let Some(c) = file_change(Step::Ssh, snap, &path, new, f.mode, ROOT_OWNER) {
            plan.changes.push(c);
        }
    }
    plan_socket(profile, snap, keep, plan);
}

fn report(plan: &mut Plan, path: &str, dropped: &[String]) {
    for line in dropped {
        plan.notes.push((
            Step::Ssh,
            format!("{path}: `{line}` conflicts with the profile and is commented out"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours() -> Vec<(&'static str, String)> {
        let mut p = Profile::default();
        p.ssh.port = Some(2222);
        settings(&p)
    }

    #[test]
    fn cloud_init_password_yes_is_commented_out() {
        let (out, dropped) = neutralise(
            "# cloud-init\nPasswordAuthentication yes\nUsePAM yes\n",
            &ours(),
        );
        assert_eq!(
            out,
            "# cloud-init\n#portcullis: PasswordAuthentication yes\nUsePAM yes\n"
        );
        assert_eq!(dropped, vec!["PasswordAuthentication yes"]);
        // Already neutralised: nothing more to do.
        assert_eq!(neutralise(&out, &ours()).0, out);
    }

    #[test]
    fn main_file_conflicts_are_neutralised_but_match_blocks_left_alone() {
        let main = "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\nPort 22\nUsePAM yes\nMatch User x\n  PasswordAuthentication yes\n";
        let (out, dropped) = neutralise(main, &ours());
        assert_eq!(dropped, vec!["PermitRootLogin yes", "Port 22"]);
        assert!(
            out.contains("#portcullis: PermitRootLogin yes\n#portcullis: Port 22\nUsePAM yes\n")
        );
        assert!(out.contains("\n  PasswordAuthentication yes"));
    }

    #[test]
    fn include_is_detected() {
        assert!(has_include("Include /etc/ssh/sshd_config.d/*.conf\n"));
        assert!(!has_include(
            "#Include /etc/ssh/sshd_config.d/*.conf\nPort 22\n"
        ));
    }

    #[test]
    fn a_main_file_without_include_gets_it_first() {
        use crate::host::snapshot::Snapshot;
        use crate::host::write::FileState;
        let mut snap = Snapshot::default();
        let text = "Port 22\nPermitRootLogin yes\nUsePAM yes\n";
        let state = FileState {
            bytes: text.into(),
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        snap.files.insert(MAIN.into(), Some(state));
        let mut profile = Profile::default();
        profile.ssh.port = Some(2222);
        let mut p = Plan::default();
        plan(&profile, &snap, &KeepOpen::default(), &mut p);
        let main = p.changes.iter().find(|c| c.path() == Some(MAIN)).unwrap();
        let super::super::Action::Write { content, .. } = &main.action else {
            panic!()
        };
        assert_eq!(
            content,
            "Include /etc/ssh/sshd_config.d/*.conf\n#portcullis: Port 22\n#portcullis: PermitRootLogin yes\nUsePAM yes\n"
        );
    }

    #[test]
    fn sshd_t_aliases_are_understood() {
        let got = |v: &str| vec![v.to_string()];
        assert!(effective_matches(
            "permitrootlogin",
            "prohibit-password",
            &got("without-password")
        ));
        assert!(effective_matches(
            "passwordauthentication",
            "no",
            &got("no")
        ));
        assert!(!effective_matches(
            "passwordauthentication",
            "no",
            &got("yes")
        ));
        assert!(effective_matches(
            "port",
            "2222",
            &["22".into(), "2222".into()]
        ));
        assert!(!effective_matches("port", "2222", &got("22")));
    }

    fn socket_host() -> Snapshot {
        use crate::host::write::FileState;
        let mut snap = Snapshot::default();
        let state = FileState {
            bytes: "Include /etc/ssh/sshd_config.d/*.conf\nUsePAM yes\n".into(),
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        snap.files.insert(MAIN.into(), Some(state));
        snap.files.insert(SOCKET_DROPIN.into(), None);
        snap.ssh_socket = true;
        snap.ssh_socket_ports = vec![22];
        snap.sshd_ports = vec![22];
        snap
    }

    fn socket_change(p: &Plan) -> Option<String> {
        p.changes
            .iter()
            .find(|c| c.path() == Some(SOCKET_DROPIN))
            .map(|c| match &c.action {
                super::super::Action::Write { content, .. } => content.clone(),
                _ => panic!(),
            })
    }

    fn written(snap: &mut Snapshot, text: &str, ports: &[u16]) {
        use crate::host::write::FileState;
        let state = FileState {
            bytes: text.into(),
            mode: 0o644,
            uid: 0,
            gid: 0,
        };
        snap.files.insert(SOCKET_DROPIN.into(), Some(state));
        snap.ssh_socket_ports = ports.to_vec();
        snap.sshd_ports = ports.to_vec();
    }

    #[test]
    fn socket_port_change_keeps_the_old_port_until_confirm() {
        let mut profile = Profile::default();
        profile.ssh.port = Some(2222);
        let mut snap = socket_host();
        let keep = KeepOpen {
            ports: vec![22],
            client: None,
        };
        let mut p = Plan::default();
        plan(&profile, &snap, &keep, &mut p);
        let trial = socket_change(&p).expect("drop-in planned");
        let body: Vec<&str> = trial.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            body,
            [
                "[Socket]",
                "ListenStream=",
                "ListenStream=2222",
                "ListenStream=22"
            ]
        );
        assert!(p.notes.iter().any(|(_, n)| n.contains("2222 and 22")));
        // Applied: the socket listens on both; confirm's plan (nothing kept open) drops the old port.
        written(&mut snap, &trial, &[2222, 22]);
        let mut c = Plan::default();
        plan(&profile, &snap, &KeepOpen::default(), &mut c);
        let confirmed = socket_change(&c).expect("confirm rewrites the drop-in");
        let body: Vec<&str> = confirmed.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(body, ["[Socket]", "ListenStream=", "ListenStream=2222"]);
        // Confirmed: nothing left to do.
        written(&mut snap, &confirmed, &[2222]);
        let mut again = Plan::default();
        plan(&profile, &snap, &KeepOpen::default(), &mut again);
        assert_eq!(socket_change(&again), None);
    }

    #[test]
    fn socket_drop_in_follows_the_address_family() {
        let mut profile = Profile::default();
        profile.ssh.address_family = crate::profile::AddressFamily::Inet;
        assert!(
            socket_dropin_text(&profile, &[2222], 2222).ends_with("ListenStream=0.0.0.0:2222\n")
        );
        profile.ssh.address_family = crate::profile::AddressFamily::Inet6;
        let t = socket_dropin_text(&profile, &[2222], 2222);
        assert!(t.contains("BindIPv6Only=ipv6-only\nListenStream=[::]:2222\n"));
    }

    #[test]
    fn no_socket_drop_in_without_socket_activation_or_when_the_port_is_already_right() {
        let mut profile = Profile::default();
        profile.ssh.port = Some(2222);
        let mut snap = socket_host();
        snap.ssh_socket = false;
        let mut p = Plan::default();
        plan(&profile, &snap, &KeepOpen::default(), &mut p);
        assert_eq!(socket_change(&p), None);
        // 24.04's generator already made the socket listen on 2222 (sshd_config says so): nothing to add.
        let mut snap = socket_host();
        snap.ssh_socket_ports = vec![2222];
        let mut p = Plan::default();
        plan(&profile, &snap, &KeepOpen::default(), &mut p);
        assert_eq!(socket_change(&p), None);
        // No port in the profile: the socket is left alone.
        profile.ssh.port = None;
        let snap = socket_host();
        let mut p = Plan::default();
        plan(&profile, &snap, &KeepOpen::default(), &mut p);
        assert_eq!(socket_change(&p), None);
    }

    #[test]
    fn sshd_keeps_the_old_port_until_confirm() {
        let mut profile = Profile::default();
        profile.ssh.port = Some(2222);
        let keep = KeepOpen {
            ports: vec![22, 2222],
            client: None,
        };
        let trial = dropin_text(&profile, &keep);
        let ports: Vec<&str> = trial.lines().filter(|l| l.starts_with("Port ")).collect();
        assert_eq!(ports, ["Port 2222", "Port 22"]);
        let confirmed = dropin_text(&profile, &KeepOpen::default());
        let ports: Vec<&str> = confirmed
            .lines()
            .filter(|l| l.starts_with("Port "))
            .collect();
        assert_eq!(ports, ["Port 2222"]);
        // No port in the profile: nothing kept either (sshd's own Port lines stay in force).
        profile.ssh.port = None;
        assert!(!dropin_text(&profile, &keep).contains("Port "));
    }
}
