//! The ufw planner against an in-memory ufw: the plan's commands are played on the files the way ufw writes
//! them (tuple lines), so a second plan shows what ufw would leave behind.

use super::*;
use crate::host::write::FileState;

const RULES_HEAD: &str = "*filter\n:ufw-user-input - [0:0]\n### RULES ###\n";
const RULES_TAIL: &str = "### END RULES ###\nCOMMIT\n";
const DEBIAN_DEFAULTS: &str = "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n\
                               DEFAULT_FORWARD_POLICY=\"DROP\"\nIPT_SYSCTL=/etc/ufw/sysctl.conf\n";

fn file(text: &str) -> Option<FileState> {
    Some(FileState {
        bytes: text.as_bytes().to_vec(),
        mode: 0o640,
        uid: 0,
        gid: 0,
    })
}

fn rules(tuples: &[&str]) -> String {
    let body: String = tuples
        .iter()
        .map(|t| format!("### tuple ### {t}\n-A ufw-user-input -j ACCEPT\n"))
        .collect();
    format!("{RULES_HEAD}{body}{RULES_TAIL}")
}

/// Debian 12 right after `apt-get install ufw`: installed, disabled, no rules.
fn host() -> Snapshot {
    let mut snap = Snapshot {
        ufw_installed: true,
        sshd_ports: vec![22],
        ..Default::default()
    };
    snap.files
        .insert(UFW_CONF.into(), file("ENABLED=no\nLOGLEVEL=low\n"));
    snap.files
        .insert(UFW_DEFAULTS.into(), file(DEBIAN_DEFAULTS));
    snap.files.insert(USER_RULES.into(), file(&rules(&[])));
    snap.files.insert(USER6_RULES.into(), file(&rules(&[])));
    snap
}

fn profile() -> Profile {
    let mut p = Profile::default();
    p.ssh.port = Some(2222);
    p.firewall.backend = crate::profile::Backend::Ufw;
    p
}

fn trial() -> KeepOpen {
    KeepOpen {
        ports: vec![22],
        client: Some("192.0.2.2".into()),
    }
}

fn run(profile: &Profile, snap: &Snapshot, keep: &KeepOpen) -> Plan {
    let mut p = Plan::default();
    plan(profile, snap, keep, &mut p);
    p
}

fn commands(p: &Plan) -> Vec<String> {
    p.changes
        .iter()
        .map(|c| match c.action.command() {
            Some(cmd) => cmd.join(" "),
            None => format!("write {}", c.path().unwrap_or_default()),
        })
        .collect()
}

fn text(snap: &Snapshot, path: &str) -> String {
    snap.text(path).unwrap_or_default()
}

fn put(snap: &mut Snapshot, path: &str, t: String) {
    snap.files.insert(path.into(), file(&t));
}

/// Reads back what `rule_args` wrote: the tuple a ufw rule command stands for.
fn tuple_of(args: &[String]) -> Tuple {
    let mut it = args.iter().map(String::as_str).peekable();
    let action = it.next().unwrap().to_string();
    let dir = it.next().unwrap().to_string();
    let f = |key: &str, it: &mut std::iter::Peekable<_>| {
        if it.peek() == Some(&key) {
            it.next();
            it.next().map(|s: &str| s.to_string())
        } else {
            None
        }
    };
    let proto = f("proto", &mut it).unwrap_or("any".into());
    let src = f("from", &mut it).unwrap();
    let sport = f("port", &mut it).unwrap_or("any".into());
    let dst = f("to", &mut it).unwrap();
    let dport = f("port", &mut it).unwrap_or("any".into());
    assert!(it.next().is_none(), "unexpected words in {args:?}");
    Tuple {
        v6: dst.contains(':'),
        fields: [action, proto, dport, dst, sport, normalize(&src), dir],
    }
}

/// Plays the plan's changes the way ufw 0.36 does on its files.
fn play(snap: &mut Snapshot, plan: &Plan) {
    for c in &plan.changes {
        match &c.action {
            Action::Write { path, content, .. } => put(snap, path, content.clone()),
            Action::Ufw { args } => {
                let words: Vec<&str> = args.iter().map(String::as_str).collect();
                match words.as_slice() {
                    ["--force", "enable"] => {
                        put(snap, UFW_CONF, "ENABLED=yes\nLOGLEVEL=low\n".into())
                    }
                    ["reload"] => {}
                    ["default", word, dir] => {
                        let key = if *dir == "incoming" {
                            "DEFAULT_INPUT_POLICY"
                        } else {
                            "DEFAULT_OUTPUT_POLICY"
                        };
                        let v = if *word == "deny" {
                            "\"DROP\""
                        } else {
                            "\"ACCEPT\""
                        };
                        let t = set_shell_var(&text(snap, UFW_DEFAULTS), key, v);
                        put(snap, UFW_DEFAULTS, t);
                    }
                    _ => rule_command(snap, args),
                }
            }
            other => panic!("not a ufw change: {other:?}"),
        }
    }
}

fn rule_command(snap: &mut Snapshot, args: &[String]) {
    let (delete, prepend) = (args[0] == "delete", args[0] == "prepend");
    let mut rest: Vec<String> = args[usize::from(delete || prepend)..].to_vec();
    let ours = rest.ends_with(&["comment".into(), TAG.into()]);
    if ours {
        rest.truncate(rest.len() - 2);
    }
    let t = tuple_of(&rest);
    let path = if t.v6 { USER6_RULES } else { USER_RULES };
    assert!(
        !t.v6 || ipv6_setting(&text(snap, UFW_DEFAULTS)),
        "ufw refuses IPv6 rules with IPV6=no: {args:?}"
    );
    let mut lines: Vec<String> = parse_rules(&text(snap, path), t.v6)
        .into_iter()
        .map(|e| {
            let c = if e.ours {
                format!(" comment={}", hex(TAG))
            } else {
                String::new()
            };
            format!("{}{c}", e.tuple.fields.join(" "))
        })
        .collect();
    let pos = lines
        .iter()
        .position(|l| parse_rules(&format!("### tuple ### {l}"), t.v6)[0].tuple == t);
    match (delete, pos) {
        (true, Some(i)) => {
            lines.remove(i);
        }
        (true, None) => panic!("ufw: could not delete non-existent rule {args:?}"),
        // ufw updates the comment of an existing rule in place.
        (false, Some(i)) => lines[i] = format!("{} comment={}", t.fields.join(" "), hex(TAG)),
        (false, None) => {
            let l = format!("{} comment={}", t.fields.join(" "), hex(TAG));
            if prepend {
                lines.insert(0, l)
            } else {
                lines.push(l)
            }
        }
    }
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    put(snap, path, rules(&refs));
}

#[test]
fn fresh_ufw_gets_ssh_and_the_session_first_and_is_enabled_last() {
    let p = profile();
    let mut snap = host();
    let plan1 = run(&p, &snap, &trial());
    let cmds = commands(&plan1);
    assert_eq!(
        cmds,
        [
            "ufw prepend allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 22 comment portcullis",
            "ufw prepend allow in proto tcp from ::/0 to ::/0 port 22 comment portcullis",
            "ufw prepend allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 2222 comment portcullis",
            "ufw prepend allow in proto tcp from ::/0 to ::/0 port 2222 comment portcullis",
            "ufw prepend allow in from 192.0.2.2 to 0.0.0.0/0 comment portcullis",
            "ufw --force enable",
        ]
    );
    play(&mut snap, &plan1);
    assert!(run(&p, &snap, &trial()).changes.is_empty());
    // confirm: the old port and the session's address go, nothing else.
    let closing = run(&p, &snap, &KeepOpen::default());
    assert_eq!(
        commands(&closing),
        [
            "ufw delete allow in from 192.0.2.2 to 0.0.0.0/0",
            "ufw delete allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 22",
            "ufw delete allow in proto tcp from ::/0 to ::/0 port 22",
        ]
    );
    play(&mut snap, &closing);
    let after = run(&p, &snap, &KeepOpen::default());
    assert!(after.changes.is_empty(), "{:?}", commands(&after));
    assert!(after.notes.is_empty(), "{:?}", after.notes);
}

#[test]
fn the_admins_own_rules_satisfy_ours_and_are_never_deleted() {
    let p = profile();
    let mut snap = host();
    let own = rules(&[
        "allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
        "deny tcp 25 0.0.0.0/0 any 0.0.0.0/0 in",
    ]);
    put(&mut snap, USER_RULES, own);
    put(&mut snap, UFW_CONF, "ENABLED=yes\n".into());
    let plan1 = run(&p, &snap, &trial());
    let cmds = commands(&plan1);
    assert!(
        !cmds.iter().any(|c| c.contains("0.0.0.0/0 port 22 ")),
        "{cmds:?}"
    );
    assert!(cmds.iter().any(|c| c.contains("::/0 port 22 ")), "{cmds:?}");
    assert!(
        !cmds.iter().any(|c| c.contains("enable")),
        "already enabled: {cmds:?}"
    );
    play(&mut snap, &plan1);
    let closing = run(&p, &snap, &KeepOpen::default());
    let cmds = commands(&closing);
    assert!(
        !cmds.iter().any(|c| c.contains("0.0.0.0/0 port 22")),
        "{cmds:?}"
    );
    assert!(!cmds.iter().any(|c| c.contains("port 25")), "{cmds:?}");
    play(&mut snap, &closing);
    let t = text(&snap, USER_RULES);
    assert!(
        t.contains("### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n"),
        "{t}"
    );
    assert!(t.contains("deny tcp 25"), "{t}");
}

#[test]
fn allow_list_policies_and_switched_off_ipv4_in_order() {
    let mut p = profile();
    p.firewall.ipv4 = false;
    p.firewall.outgoing = Policy::Deny;
    p.firewall.allow = vec![crate::profile::AllowRule {
        port: 53,
        proto: Proto::Udp,
        from: Some("198.51.100.7/24".into()),
    }];
    let mut snap = host();
    let plan1 = run(&p, &snap, &KeepOpen::default());
    let cmds = commands(&plan1);
    let at = |needle: &str| {
        cmds.iter()
            .position(|c| c.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in {cmds:?}"))
    };
    assert!(
        cmds.contains(
            &"ufw allow in proto udp from 198.51.100.0/24 to 0.0.0.0/0 port 53 comment portcullis"
                .into()
        )
    );
    assert!(at("port 2222") < at("port 53"));
    assert!(at("port 53") < at("deny in from 0.0.0.0/0"));
    assert!(at("deny in from 0.0.0.0/0") < at("default deny outgoing"));
    assert!(at("default deny outgoing") < at("enable"));
    assert!(
        !cmds.iter().any(|c| c.contains("incoming")),
        "already DROP: {cmds:?}"
    );
    play(&mut snap, &plan1);
    assert!(run(&p, &snap, &KeepOpen::default()).changes.is_empty());
    // A new allow must not land behind our deny: the deny is taken out and appended again.
    p.firewall.allow.push(crate::profile::AllowRule {
        port: 8080,
        proto: Proto::Tcp,
        from: None,
    });
    let plan2 = run(&p, &snap, &KeepOpen::default());
    assert_eq!(
        commands(&plan2),
        [
            "ufw delete deny in from 0.0.0.0/0 to 0.0.0.0/0",
            "ufw allow in proto tcp from 0.0.0.0/0 to 0.0.0.0/0 port 8080 comment portcullis",
            "ufw allow in proto tcp from ::/0 to ::/0 port 8080 comment portcullis",
            "ufw deny in from 0.0.0.0/0 to 0.0.0.0/0 comment portcullis",
        ]
    );
    play(&mut snap, &plan2);
    let t = text(&snap, USER_RULES);
    assert!(t.find("8080").unwrap() < t.find("deny any").unwrap(), "{t}");
    assert!(run(&p, &snap, &KeepOpen::default()).changes.is_empty());
}

#[test]
fn ipv6_is_switched_on_in_defaults_before_any_ipv6_rule_and_reloaded() {
    let p = profile();
    let mut snap = host();
    put(
        &mut snap,
        UFW_DEFAULTS,
        DEBIAN_DEFAULTS.replace("IPV6=yes", "IPV6=no"),
    );
    put(&mut snap, UFW_CONF, "ENABLED=yes\n".into());
    let plan1 = run(&p, &snap, &KeepOpen::default());
    let cmds = commands(&plan1);
    assert_eq!(cmds[0], "write /etc/default/ufw");
    assert!(plan1.changes[0].diff.contains("+IPV6=yes"));
    assert_eq!(cmds.last().map(String::as_str), Some("ufw reload"));
    play(&mut snap, &plan1);
    assert!(run(&p, &snap, &KeepOpen::default()).changes.is_empty());

    // ipv6 = false keeps the host's IPV6=no: ufw then drops all IPv6 itself, and no IPv6 rule is asked for.
    let mut off = profile();
    off.firewall.ipv6 = false;
    let mut snap = host();
    put(
        &mut snap,
        UFW_DEFAULTS,
        DEBIAN_DEFAULTS.replace("IPV6=yes", "IPV6=no"),
    );
    let cmds = commands(&run(&off, &snap, &KeepOpen::default()));
    assert!(
        !cmds.iter().any(|c| c.contains("::") || c.contains("write")),
        "{cmds:?}"
    );
    // ... unless the operator's own session comes over IPv6.
    let keep = KeepOpen {
        ports: vec![22],
        client: Some("2001:db8::2".into()),
    };
    let cmds = commands(&run(&off, &snap, &keep));
    assert_eq!(cmds[0], "write /etc/default/ufw");
    assert!(
        cmds.contains(&"ufw prepend allow in from 2001:db8::2 to ::/0 comment portcullis".into())
    );
    assert!(cmds.contains(&"ufw deny in from ::/0 to ::/0 comment portcullis".into()));
}

#[test]
fn icmp_off_and_a_leftover_nftables_table_are_noted() {
    let mut p = profile();
    p.firewall.icmp = false;
    let mut snap = host();
    snap.fw_table_loaded = true;
    let plan1 = run(&p, &snap, &KeepOpen::default());
    let notes: Vec<&str> = plan1.notes.iter().map(|(_, n)| n.as_str()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("icmp = false is not enforced")),
        "{notes:?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.contains("nft delete table inet portcullis-fw")),
        "{notes:?}"
    );
}

#[test]
fn tuples_parse_as_ufw_writes_them() {
    let text = "### tuple ### allow any any 0.0.0.0/0 any 192.0.2.2 in comment=706f727463756c6c6973\n\
                -A ufw-user-input -s 192.0.2.2 -j ACCEPT\n\
                ### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n\
                ### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in\n\
                ### tuple ### allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in comment=6f74686572\n";
    let r = parse_rules(text, false);
    assert_eq!(
        r.len(),
        3,
        "the app-profile rule is not a plain tuple: {r:?}"
    );
    assert!(r[0].ours && !r[1].ours && !r[2].ours);
    assert_eq!(r[0].tuple.fields[5], "192.0.2.2");
    assert_eq!(
        rule_args(&r[0].tuple).unwrap().join(" "),
        "allow in from 192.0.2.2 to 0.0.0.0/0"
    );
    let on_iface = Tuple {
        v6: false,
        fields: [
            "deny",
            "udp",
            "53",
            "0.0.0.0/0",
            "any",
            "0.0.0.0/0",
            "in_eth0",
        ]
        .map(String::from),
    };
    assert_eq!(
        rule_args(&on_iface).unwrap().join(" "),
        "deny in on eth0 proto udp from 0.0.0.0/0 to 0.0.0.0/0 port 53"
    );
}

#[test]
fn addresses_normalize_like_ufw() {
    assert_eq!(normalize("198.51.100.7/24"), "198.51.100.0/24");
    assert_eq!(normalize("192.0.2.2/32"), "192.0.2.2");
    assert_eq!(normalize("0.0.0.0/0"), "0.0.0.0/0");
    assert_eq!(normalize("2001:DB8:0:0::1/32"), "2001:db8::/32");
    assert_eq!(normalize("::/0"), "::/0");
    assert_eq!(normalize("not-an-address"), "not-an-address");
}

#[test]
fn shell_var_edits_keep_the_rest_of_the_file() {
    let t = "# comment IPV6=no\nIPV6=no\nDEFAULT_INPUT_POLICY=\"DROP\"\n";
    assert_eq!(
        set_shell_var(t, "IPV6", "yes"),
        "# comment IPV6=no\nIPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\n"
    );
    assert_eq!(set_shell_var("A=1\n", "IPV6", "yes"), "A=1\nIPV6=yes\n");
}

#[test]
fn a_ufw_sysctl_value_against_the_profile_is_noted() {
    let p = profile();
    let mut snap = host();
    put(
        &mut snap,
        UFW_SYSCTL,
        "net/ipv4/conf/all/log_martians=0\nnet/ipv4/icmp_echo_ignore_broadcasts=1\n".into(),
    );
    let want = crate::apply::sysctl::wanted(&p, &snap, &mut Vec::new());
    assert_eq!(
        want.get("net.ipv4.conf.all.log_martians")
            .map(String::as_str),
        Some("1")
    );
    let notes: Vec<String> = run(&p, &snap, &KeepOpen::default())
        .notes
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(
        notes[0].starts_with("/etc/ufw/sysctl.conf sets net.ipv4.conf.all.log_martians = 0"),
        "{notes:?}"
    );
}

#[test]
fn only_our_own_deny_is_moved_behind_new_allows() {
    let mut p = profile();
    p.firewall.ipv4 = false;
    p.firewall.allow = vec![crate::profile::AllowRule {
        port: 8080,
        proto: Proto::Tcp,
        from: None,
    }];
    let mut snap = host();
    put(
        &mut snap,
        USER_RULES,
        rules(&["deny any any 0.0.0.0/0 any 0.0.0.0/0 in"]),
    );
    let cmds = commands(&run(&p, &snap, &KeepOpen::default()));
    assert!(
        !cmds.iter().any(|c| c.contains("deny")),
        "the admin's deny stays put: {cmds:?}"
    );
}
