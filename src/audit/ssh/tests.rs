use super::*;
use crate::audit::Status;
use crate::host::sshd::parse_sshd_config;
use crate::host::sshd::tests::MemSource;

/// Facts as read from config files only (no `sshd -T`), like an image audited with --root.
fn from_files(files: Vec<(&'static str, &'static str)>) -> HostFacts {
    let mut f = HostFacts::default();
    f.sshd.files = parse_sshd_config("/etc/ssh/sshd_config", &MemSource(files));
    f.sshd.version = Some((9, 2));
    f
}

fn find(f: &HostFacts, p: &Profile, id: &str) -> Finding {
    checks(f, p)
        .into_iter()
        .find(|x| x.id == id)
        .unwrap_or_else(|| panic!("{id} missing"))
}

const HARDENED: &str = "PermitRootLogin no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nX11Forwarding no\n\
AllowAgentForwarding no\nAllowTcpForwarding no\nMaxAuthTries 3\nLoginGraceTime 30s\nPort 2222\nAllowUsers admin\n";

#[test]
fn cloud_init_dropin_turns_passwords_on_and_is_reported() {
    let f = from_files(vec![
        (
            "/etc/ssh/sshd_config",
            "Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication no\nUsePAM yes\n",
        ),
        (
            "/etc/ssh/sshd_config.d/50-cloud-init.conf",
            "PasswordAuthentication yes\n",
        ),
    ]);
    let p = Profile::default();
    let pw = find(&f, &p, "ssh.password-auth");
    assert_eq!(pw.status, Status::Fail);
    assert!(
        pw.evidence[0].contains("50-cloud-init.conf:1"),
        "{:?}",
        pw.evidence
    );
    let conflict = find(&f, &p, "ssh.dropin-conflict");
    assert_eq!(conflict.status, Status::Fail);
    assert!(
        conflict.evidence[0].contains("50-cloud-init.conf:1 wins over"),
        "{:?}",
        conflict.evidence
    );
    assert!(conflict.evidence[0].contains("/etc/ssh/sshd_config:2"));
}

#[test]
fn hardened_files_pass() {
    let f = from_files(vec![("/etc/ssh/sshd_config", HARDENED)]);
    let p = Profile::parse("[ssh]\nport = 2222\nallow_users = [\"admin\"]\n", "p").unwrap();
    for id in [
        "ssh.root-login",
        "ssh.password-auth",
        "ssh.pubkey-auth",
        "ssh.empty-passwords",
        "ssh.kbd-interactive",
        "ssh.x11-forwarding",
        "ssh.agent-forwarding",
        "ssh.tcp-forwarding",
        "ssh.max-auth-tries",
        "ssh.login-grace-time",
        "ssh.port",
        "ssh.allow-users",
        "ssh.dropin-conflict",
        "ssh.address-family",
    ] {
        assert_eq!(
            find(&f, &p, id).status,
            Status::Pass,
            "{id}: {:?}",
            find(&f, &p, id).evidence
        );
    }
}

#[test]
fn openssh_defaults_fail_where_the_guides_differ() {
    // An empty config: every value is OpenSSH's default.
    let f = from_files(vec![("/etc/ssh/sshd_config", "# nothing\n")]);
    let p = Profile::default();
    assert_eq!(find(&f, &p, "ssh.password-auth").status, Status::Fail);
    assert_eq!(
        find(&f, &p, "ssh.kbd-interactive").status,
        Status::Warn,
        "UsePAM defaults to no upstream"
    );
    assert_eq!(find(&f, &p, "ssh.root-login").status, Status::Warn);
    assert_eq!(find(&f, &p, "ssh.max-auth-tries").status, Status::Fail);
    assert_eq!(find(&f, &p, "ssh.login-grace-time").status, Status::Fail);
    assert_eq!(find(&f, &p, "ssh.port").status, Status::Warn);
    assert_eq!(find(&f, &p, "ssh.allow-users").status, Status::Warn);
    assert!(find(&f, &p, "ssh.password-auth").evidence[0].contains("OpenSSH default"));
}

#[test]
fn root_login_yes_fails_and_match_blocks_warn() {
    let f = from_files(vec![("/etc/ssh/sshd_config", "PermitRootLogin yes\n")]);
    assert_eq!(
        find(&f, &Profile::default(), "ssh.root-login").status,
        Status::Fail
    );
    let f = from_files(vec![(
        "/etc/ssh/sshd_config",
        "PasswordAuthentication no\nMatch Address 10.0.0.0/8\n  PasswordAuthentication yes\n",
    )]);
    let x = find(&f, &Profile::default(), "ssh.password-auth");
    assert_eq!(x.status, Status::Warn);
    assert!(
        x.evidence
            .iter()
            .any(|e| e.contains("Match Address 10.0.0.0/8"))
    );
}

#[test]
fn sshd_t_output_is_preferred_over_files() {
    let mut f = from_files(vec![(
        "/etc/ssh/sshd_config",
        "PasswordAuthentication yes\n",
    )]);
    f.sshd.sshd_t = Some(crate::host::sshd::parse_sshd_t(
        "passwordauthentication no\nport 2222\n",
    ));
    f.sshd.sshd_t_cmd = "sshd -T".into();
    assert_eq!(
        find(&f, &Profile::default(), "ssh.password-auth").status,
        Status::Pass
    );
    let p = Profile::parse("[ssh]\nport = 22\n", "p").unwrap();
    assert_eq!(find(&f, &p, "ssh.port").status, Status::Fail);
}

#[test]
fn socket_activation_decides_the_port() {
    let mut f = from_files(vec![("/etc/ssh/sshd_config", "Port 22\n")]);
    f.sshd.socket.enabled = true;
    f.sshd.socket.listen = vec![(
        "2222".into(),
        crate::host::Origin {
            file: "/etc/systemd/system/ssh.socket.d/port.conf".into(),
            line: 3,
        },
    )];
    let p = Profile::parse("[ssh]\nport = 2222\n", "p").unwrap();
    let x = find(&f, &p, "ssh.port");
    assert_eq!(x.status, Status::Pass);
    assert!(x.evidence.iter().any(|e| e.contains("ssh.socket")));
}

#[test]
fn allow_users_that_leaves_out_the_admin_fails() {
    let f = from_files(vec![("/etc/ssh/sshd_config", "AllowUsers deploy\n")]);
    let p = Profile::parse("[admin]\nuser = \"admin\"\n", "p").unwrap();
    let x = find(&f, &p, "ssh.allow-users");
    assert_eq!(x.status, Status::Fail);
    assert!(x.evidence.iter().any(|e| e.contains("not admitted: admin")));
}

#[test]
fn unreadable_config_is_an_error_and_missing_sshd_skips() {
    let mut f = HostFacts::default();
    f.sshd.files = Err("/etc/ssh/sshd_config: permission denied".into());
    let all = checks(&f, &Profile::default());
    assert!(all.iter().all(|x| x.status == Status::Error), "{all:?}");
    f.sshd.installed = false;
    assert!(
        checks(&f, &Profile::default())
            .iter()
            .all(|x| x.status == Status::Skip)
    );
}

#[test]
fn sshd_time_format() {
    assert_eq!(parse_sshd_time("2m"), Some(120));
    assert_eq!(parse_sshd_time("1m30s"), Some(90));
    assert_eq!(parse_sshd_time("45"), Some(45));
    assert_eq!(parse_sshd_time("x"), None);
}

#[test]
fn every_yes_no_check_fails_on_the_wrong_value_and_passes_on_the_right_one() {
    // (id, keyword, the guides' value)
    let cases = [
        ("ssh.password-auth", "PasswordAuthentication", "no"),
        ("ssh.pubkey-auth", "PubkeyAuthentication", "yes"),
        ("ssh.empty-passwords", "PermitEmptyPasswords", "no"),
        ("ssh.kbd-interactive", "KbdInteractiveAuthentication", "no"),
        ("ssh.x11-forwarding", "X11Forwarding", "no"),
        ("ssh.agent-forwarding", "AllowAgentForwarding", "no"),
        ("ssh.tcp-forwarding", "AllowTcpForwarding", "no"),
        ("ssh.hostbased-auth", "HostbasedAuthentication", "no"),
        ("ssh.ignore-rhosts", "IgnoreRhosts", "yes"),
        ("ssh.permit-tunnel", "PermitTunnel", "no"),
        ("ssh.gateway-ports", "GatewayPorts", "no"),
        ("ssh.user-environment", "PermitUserEnvironment", "no"),
        ("ssh.strict-modes", "StrictModes", "yes"),
    ];
    let p = Profile::default();
    for (id, keyword, good) in cases {
        let bad = if good == "yes" { "no" } else { "yes" };
        let mut f = HostFacts::default();
        f.sshd.sshd_t = Some(crate::host::sshd::parse_sshd_t(&format!(
            "usepam yes\n{} {good}\n",
            keyword.to_ascii_lowercase()
        )));
        assert_eq!(
            find(&f, &p, id).status,
            Status::Pass,
            "{id} with {keyword} {good}"
        );
        f.sshd.sshd_t = Some(crate::host::sshd::parse_sshd_t(&format!(
            "usepam yes\n{} {bad}\n",
            keyword.to_ascii_lowercase()
        )));
        let x = find(&f, &p, id);
        assert_eq!(x.status, Status::Fail, "{id} with {keyword} {bad}");
        assert!(
            x.evidence[0].starts_with(&format!("{keyword} {bad}")),
            "{:?}",
            x.evidence
        );
    }
    // AllowTcpForwarding local still forwards.
    let mut f = HostFacts::default();
    f.sshd.sshd_t = Some(crate::host::sshd::parse_sshd_t(
        "allowtcpforwarding local\n",
    ));
    assert_eq!(find(&f, &p, "ssh.tcp-forwarding").status, Status::Fail);
}

#[test]
fn address_family_follows_the_profile() {
    let f = from_files(vec![("/etc/ssh/sshd_config", "AddressFamily inet\n")]);
    assert_eq!(
        find(&f, &Profile::default(), "ssh.address-family").status,
        Status::Fail
    );
    let p = Profile::parse("[ssh]\naddress_family = \"inet\"\n", "p").unwrap();
    assert_eq!(find(&f, &p, "ssh.address-family").status, Status::Pass);
}

#[test]
fn dropin_conflict_lists_match_blocks_and_warns_on_include_loops() {
    let f = from_files(vec![(
        "/etc/ssh/sshd_config",
        "PasswordAuthentication no\nMatch User backup\n  ForceCommand internal-sftp\n",
    )]);
    let x = find(&f, &Profile::default(), "ssh.dropin-conflict");
    assert_eq!(x.status, Status::Pass);
    assert!(
        x.evidence
            .iter()
            .any(|e| e.contains("`Match User backup` at /etc/ssh/sshd_config:2")),
        "{:?}",
        x.evidence
    );
    let f = from_files(vec![(
        "/etc/ssh/sshd_config",
        "Include /etc/ssh/sshd_config\n",
    )]);
    assert_eq!(
        find(&f, &Profile::default(), "ssh.dropin-conflict").status,
        Status::Warn
    );
}

#[test]
fn garbage_values_are_errors_not_verdicts() {
    let mut f = HostFacts::default();
    f.sshd.sshd_t = Some(crate::host::sshd::parse_sshd_t(
        "port\npasswordauthentication maybe\n",
    ));
    let p = Profile::default();
    assert_eq!(find(&f, &p, "ssh.port").status, Status::Error);
    let x = find(&f, &p, "ssh.password-auth");
    assert_eq!(x.status, Status::Error);
    assert!(x.evidence[0].contains("\"maybe\" is not understood"));
    // Modes other than yes/no are understood, and count as on.
    f.sshd.sshd_t = Some(crate::host::sshd::parse_sshd_t(
        "permittunnel ethernet\ngatewayports clientspecified\n",
    ));
    assert_eq!(find(&f, &p, "ssh.permit-tunnel").status, Status::Fail);
    assert_eq!(find(&f, &p, "ssh.gateway-ports").status, Status::Fail);
}
