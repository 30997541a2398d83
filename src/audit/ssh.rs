//! Guide step "SSH server": the effective sshd configuration (from `sshd -T`, else our reading of the files).

use crate::host::sshd::MULTI_VALUED;
use crate::host::{HostFacts, SshdFacts};
use crate::profile::{Profile, RootLogin};

use super::{Finding, Severity, Spec, crypto};

mod effective;

use effective::match_overrides;
pub use effective::{Effective, effective, parse_sshd_time};

const DROPIN: &str = "/etc/ssh/sshd_config.d/00-portcullis.conf";

fn reload_cmd(line: &str) -> String {
    format!("put `{line}` in {DROPIN} (read first), then `sshd -t && systemctl reload ssh`")
}

pub fn checks(f: &HostFacts, p: &Profile) -> Vec<Finding> {
    let s = &f.sshd;
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut out = Vec::new();

    let root = Spec::new(
        "ssh.root-login",
        "Root cannot log in over SSH",
        Severity::Critical,
        Some(&format!(
            "ssh.permit_root_login = \"{}\"",
            p.ssh.permit_root_login.as_sshd()
        )),
        &reload_cmd(&format!(
            "PermitRootLogin {}",
            p.ssh.permit_root_login.as_sshd()
        )),
    );
    out.push(root_login(&root, s, p.ssh.permit_root_login));

    let bools: Vec<(&str, &str, &str, Severity, bool, &str)> = vec![
        (
            "ssh.password-auth",
            "Password authentication is off",
            "PasswordAuthentication",
            Severity::Critical,
            p.ssh.password_authentication,
            "ssh.password_authentication",
        ),
        (
            "ssh.pubkey-auth",
            "Public key authentication is on",
            "PubkeyAuthentication",
            Severity::High,
            p.ssh.pubkey_authentication,
            "ssh.pubkey_authentication",
        ),
        (
            "ssh.empty-passwords",
            "Empty passwords are refused",
            "PermitEmptyPasswords",
            Severity::Critical,
            p.ssh.permit_empty_passwords,
            "ssh.permit_empty_passwords",
        ),
        (
            "ssh.kbd-interactive",
            "Keyboard-interactive (PAM password) login is off",
            "KbdInteractiveAuthentication",
            Severity::High,
            p.ssh.kbd_interactive,
            "ssh.kbd_interactive",
        ),
        (
            "ssh.x11-forwarding",
            "X11 forwarding is off",
            "X11Forwarding",
            Severity::Medium,
            p.ssh.x11_forwarding,
            "ssh.x11_forwarding",
        ),
        (
            "ssh.agent-forwarding",
            "Agent forwarding is off",
            "AllowAgentForwarding",
            Severity::Low,
            p.ssh.allow_agent_forwarding,
            "ssh.allow_agent_forwarding",
        ),
        (
            "ssh.tcp-forwarding",
            "TCP forwarding is off",
            "AllowTcpForwarding",
            Severity::Low,
            p.ssh.allow_tcp_forwarding,
            "ssh.allow_tcp_forwarding",
        ),
    ];
    for (id, title, keyword, sev, want, key) in bools {
        let spec = Spec::new(
            id,
            title,
            sev,
            Some(&format!("{key} = {want}")),
            &reload_cmd(&format!("{keyword} {}", yes_no(want))),
        );
        out.push(bool_check(&spec, s, keyword, want));
    }
    // Keywords the profile does not expose: the guides' value is the only right one.
    let fixed: Vec<(&str, &str, &str, Severity, bool)> = vec![
        (
            "ssh.hostbased-auth",
            "Host-based authentication is off",
            "HostbasedAuthentication",
            Severity::Medium,
            false,
        ),
        (
            "ssh.ignore-rhosts",
            "~/.rhosts files are ignored",
            "IgnoreRhosts",
            Severity::Medium,
            true,
        ),
        (
            "ssh.permit-tunnel",
            "Tunnel devices are refused",
            "PermitTunnel",
            Severity::Low,
            false,
        ),
        (
            "ssh.gateway-ports",
            "Forwarded ports stay on loopback",
            "GatewayPorts",
            Severity::Low,
            false,
        ),
        (
            "ssh.user-environment",
            "Users cannot set sshd's environment",
            "PermitUserEnvironment",
            Severity::Medium,
            false,
        ),
        (
            "ssh.strict-modes",
            "sshd checks key file permissions",
            "StrictModes",
            Severity::Medium,
            true,
        ),
    ];
    for (id, title, keyword, sev, want) in fixed {
        let spec = Spec::new(
            id,
            title,
            sev,
            None,
            &reload_cmd(&format!("{keyword} {}", yes_no(want))),
        );
        out.push(bool_check(&spec, s, keyword, want));
    }

    let chosen = p.ssh.port.unwrap_or(2222);
    let port = Spec::new(
        "ssh.port",
        "SSH listens on the chosen port",
        Severity::Low,
        Some(&format!("ssh.port = {chosen}")),
        &reload_cmd(&format!("Port {chosen}")),
    );
    out.push(port_check(&port, s, p.ssh.port));

    let tries = Spec::new(
        "ssh.max-auth-tries",
        "Few authentication attempts per connection",
        Severity::Medium,
        Some(&format!("ssh.max_auth_tries = {}", p.ssh.max_auth_tries)),
        &reload_cmd(&format!("MaxAuthTries {}", p.ssh.max_auth_tries)),
    );
    out.push(number_check(
        &tries,
        s,
        "maxauthtries",
        "MaxAuthTries",
        p.ssh.max_auth_tries as u64,
        |v| v.parse().ok(),
    ));

    let grace = Spec::new(
        "ssh.login-grace-time",
        "Unauthenticated connections are dropped quickly",
        Severity::Low,
        Some(&format!(
            "ssh.login_grace_time = {}",
            p.ssh.login_grace_time
        )),
        &reload_cmd(&format!("LoginGraceTime {}", p.ssh.login_grace_time)),
    );
    out.push(number_check(
        &grace,
        s,
        "logingracetime",
        "LoginGraceTime",
        p.ssh.login_grace_time as u64,
        parse_sshd_time,
    ));

    let af = Spec::new(
        "ssh.address-family",
        "SSH address family is as chosen",
        Severity::Low,
        Some(&format!(
            "ssh.address_family = \"{}\"",
            p.ssh.address_family.as_sshd()
        )),
        &reload_cmd(&format!("AddressFamily {}", p.ssh.address_family.as_sshd())),
    );
    out.push(address_family(&af, s, p.ssh.address_family.as_sshd()));

    out.push(crypto::check(
        &crypto::spec(s, p.ssh.crypto),
        s,
        p.ssh.crypto,
    ));

    let dropin = Spec::new(
        "ssh.dropin-conflict",
        "No config file silently overrides another",
        Severity::High,
        Some(
            "ssh.password_authentication (apply writes 00-portcullis.conf and neutralises the others)",
        ),
        &format!("remove or comment out the losing lines, and keep your settings in {DROPIN}"),
    );
    out.push(dropin_conflict(&dropin, s));

    let allow = Spec::new(
        "ssh.allow-users",
        "Only named users may log in over SSH",
        Severity::Medium,
        Some("ssh.allow_users = [\"admin\"]"),
        &reload_cmd(&format!("AllowUsers {}", allow_users_hint(f, p))),
    );
    out.push(allow_users(&allow, f, p));

    for finding in &mut out {
        if !s.installed {
            finding.status = super::Status::Skip;
            finding.evidence = vec!["sshd is not installed".into()];
        } else if !s.source_note.is_empty() && finding.status != super::Status::Error {
            finding.evidence.push(s.source_note.clone());
        }
    }
    out
}

fn allow_users_hint(f: &HostFacts, p: &Profile) -> String {
    if !p.ssh.allow_users.is_empty() {
        p.ssh.allow_users.join(" ")
    } else {
        p.admin
            .user
            .clone()
            .or_else(|| {
                f.accounts
                    .keys
                    .iter()
                    .find(|k| k.uid >= 1000)
                    .map(|k| k.user.clone())
            })
            .unwrap_or_else(|| "admin".into())
    }
}

fn root_login(spec: &Spec, s: &SshdFacts, want: RootLogin) -> Finding {
    let e = match effective(s, "permitrootlogin") {
        Ok(e) => e,
        Err(err) => return spec.error(err),
    };
    // Strictness: lower is safer.
    let rank = |v: &str| match v {
        "no" => 0,
        "forced-commands-only" => 1,
        "prohibit-password" | "without-password" => 2,
        _ => 3,
    };
    let got = e.lower();
    let mut ev = vec![e.describe("PermitRootLogin")];
    ev.extend(match_overrides(s, "permitrootlogin", "PermitRootLogin"));
    if rank(&got) <= rank(want.as_sshd()) {
        if ev.len() > 1 {
            spec.warn(ev)
        } else {
            spec.pass(ev)
        }
    } else if rank(&got) == 3 {
        ev.push(
            "root can log in with a password: the most attacked account on the internet".into(),
        );
        spec.fail(ev)
    } else {
        ev.push(format!(
            "root may still log in with a key; the profile asks for {}",
            want.as_sshd()
        ));
        spec.warn(ev)
    }
}

fn bool_check(spec: &Spec, s: &SshdFacts, keyword: &str, want: bool) -> Finding {
    let key = keyword.to_ascii_lowercase();
    let e = match effective(s, &key) {
        Ok(e) => e,
        Err(err) => return spec.error(err),
    };
    let got = e.lower();
    // AllowTcpForwarding also takes local/remote/all: anything but "no" forwards something.
    // Pure yes/no keywords; the others also take modes (PermitTunnel ethernet, GatewayPorts clientspecified,
    // PermitUserEnvironment patterns, AllowTcpForwarding local) and every mode but "no" turns the feature on.
    let multi_mode = matches!(
        key.as_str(),
        "allowtcpforwarding" | "permittunnel" | "gatewayports" | "permituserenvironment"
    );
    let known = matches!(got.as_str(), "yes" | "no") || (multi_mode && !got.is_empty());
    if !known {
        return spec.error(format!(
            "{keyword} value {:?} is not understood ({})",
            e.value(),
            e.origin
        ));
    }
    let is_on = got != "no";
    let mut ev = vec![e.describe(keyword)];
    let overrides = match_overrides(s, &key, keyword);
    if is_on == want {
        if overrides.is_empty() {
            return spec.pass(ev);
        }
        ev.extend(overrides);
        ev.push("some connections get a different value".into());
        return spec.warn(ev);
    }
    ev.extend(overrides);
    if key == "kbdinteractiveauthentication" {
        let pam = effective(s, "usepam")
            .map(|e| e.lower() == "yes")
            .unwrap_or(true);
        if !pam {
            ev.push("UsePAM no: keyboard-interactive has no password backend".into());
            return spec.warn(ev);
        }
        ev.push(
            "with UsePAM yes this still accepts passwords even when PasswordAuthentication is no"
                .into(),
        );
    }
    if key == "passwordauthentication" && e.origin.contains("cloud-init") {
        ev.push("set by cloud-init's drop-in, which sshd reads before sshd_config".into());
    }
    spec.fail(ev)
}

fn number_check(
    spec: &Spec,
    s: &SshdFacts,
    key: &str,
    keyword: &str,
    max: u64,
    parse: fn(&str) -> Option<u64>,
) -> Finding {
    let e = match effective(s, key) {
        Ok(e) => e,
        Err(err) => return spec.error(err),
    };
    let mut ev = vec![e.describe(keyword)];
    match parse(e.value()) {
        // 0 means "no limit" for LoginGraceTime.
        Some(0) => {
            ev.push("0 means no limit".into());
            spec.fail(ev)
        }
        Some(n) if n <= max => spec.pass(ev),
        Some(n) => {
            ev.push(format!("{n} is above the profile's {max}"));
            spec.fail(ev)
        }
        None => spec.error(format!(
            "{keyword} value {:?} is not understood ({})",
            e.value(),
            e.origin
        )),
    }
}

fn port_check(spec: &Spec, s: &SshdFacts, want: Option<u16>) -> Finding {
    let e = match effective(s, "port") {
        Ok(e) => e,
        Err(err) => return spec.error(err),
    };
    let mut ports: Vec<u16> = e.values.iter().filter_map(|v| v.parse().ok()).collect();
    if ports.len() != e.values.len() {
        return spec.error(format!(
            "Port value {:?} is not understood ({})",
            e.values.join(" "),
            e.origin
        ));
    }
    let mut ev = vec![e.describe("Port")];
    if s.socket.enabled && !s.socket.listen.is_empty() {
        // With socket activation systemd owns the listening socket: its ListenStream is the real port.
        ports = s
            .socket
            .listen
            .iter()
            .filter_map(|(v, _)| v.rsplit(':').next()?.trim_matches(['[', ']']).parse().ok())
            .collect();
        ev.push(format!(
            "ssh.socket is enabled and listens on {} ({})",
            s.socket
                .listen
                .iter()
                .map(|(v, _)| v.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            s.socket
                .listen
                .iter()
                .map(|(_, o)| o.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    match want {
        Some(w) if ports == [w] => spec.pass(ev),
        Some(w) => {
            ev.push(format!("the profile chose port {w}"));
            spec.fail(ev)
        }
        None if ports.contains(&22) => {
            ev.push("port 22 draws most brute-force traffic; a custom port cuts the log noise (it is not a defence by itself)".into());
            spec.warn(ev)
        }
        None => spec.pass(ev),
    }
}

fn address_family(spec: &Spec, s: &SshdFacts, want: &str) -> Finding {
    match effective(s, "addressfamily") {
        Ok(e) if e.lower() == want => spec.pass(vec![e.describe("AddressFamily")]),
        Ok(e) => spec.fail(vec![
            e.describe("AddressFamily"),
            format!("the profile expects {want}"),
        ]),
        Err(err) => spec.error(err),
    }
}

/// Same keyword set in several places outside Match blocks with different values: the first one read wins,
/// which is rarely the one the operator edited (cloud-init's 50-cloud-init.conf beats sshd_config).
fn dropin_conflict(spec: &Spec, s: &SshdFacts) -> Finding {
    let cfg = match &s.files {
        Ok(c) => c,
        Err(e) => return spec.error(format!("cannot read the sshd configuration: {e}")),
    };
    let mut ev = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for st in &cfg.settings {
        if MULTI_VALUED.contains(&st.key.as_str()) || seen.contains(&st.key.as_str()) {
            continue;
        }
        seen.push(&st.key);
        for later in cfg.all(&st.key).skip(1) {
            if !later.value.eq_ignore_ascii_case(&st.value) {
                ev.push(format!(
                    "{} {} at {} wins over {} {} at {} (sshd keeps the first value it reads)",
                    st.key, st.value, st.origin, later.key, later.value, later.origin
                ));
            }
        }
    }
    let conflicts = !ev.is_empty();
    let problems = !cfg.problems.is_empty();
    ev.push(format!("read in order: {}", cfg.files.join(", ")));
    ev.extend(cfg.problems.iter().cloned());
    // Match blocks are not conflicts, but they change values for some connections: list them.
    ev.extend(cfg.matches.iter().map(|m| {
        format!(
            "`Match {}` at {} sets {} keyword(s)",
            m.criteria,
            m.origin,
            m.settings.len()
        )
    }));
    if conflicts {
        spec.fail(ev)
    } else if problems {
        spec.warn(ev)
    } else {
        spec.pass(ev)
    }
}

fn allow_users(spec: &Spec, f: &HostFacts, p: &Profile) -> Finding {
    let s = &f.sshd;
    let users = effective(s, "allowusers");
    let groups = effective(s, "allowgroups");
    let (users, groups) = match (users, groups) {
        (Ok(u), Ok(g)) => (u, g),
        (Err(e), _) | (_, Err(e)) => return spec.error(e),
    };
    let list_of = |e: &Effective| -> Vec<String> {
        if e.defaulted {
            Vec::new()
        } else {
            e.values
                .iter()
                .flat_map(|v| v.split_whitespace().map(str::to_string))
                .collect()
        }
    };
    let allowed_users = list_of(&users);
    let allowed_groups = list_of(&groups);
    if allowed_users.is_empty() && allowed_groups.is_empty() {
        let ev = vec!["neither AllowUsers nor AllowGroups is set: every account with a valid credential may log in".into()];
        return if p.ssh.allow_users.is_empty() {
            spec.warn(ev)
        } else {
            spec.fail(ev)
        };
    }
    let mut ev = Vec::new();
    if !allowed_users.is_empty() {
        ev.push(users.describe("AllowUsers"));
    }
    if !allowed_groups.is_empty() {
        ev.push(groups.describe("AllowGroups"));
    }
    let member_of = |user: &str, group: &str| {
        f.accounts.groups.as_ref().is_ok_and(|gs| {
            gs.iter()
                .any(|g| g.name == group && g.members.iter().any(|m| m == user))
        })
    };
    let admitted = |user: &str| {
        allowed_users
            .iter()
            .any(|a| a.split('@').next() == Some(user) || crate::host::root::glob_match(a, user))
            || allowed_groups.iter().any(|g| member_of(user, g))
    };
    let mut needed: Vec<String> = p.ssh.allow_users.clone();
    if let Some(admin) = &p.admin.user {
        needed.push(admin.clone());
    }
    let missing: Vec<&String> = needed.iter().filter(|u| !admitted(u)).collect();
    if missing.is_empty() {
        spec.pass(ev)
    } else {
        ev.push(format!(
            "not admitted: {} (they would be locked out)",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        spec.fail(ev)
    }
}

#[cfg(test)]
mod tests;
