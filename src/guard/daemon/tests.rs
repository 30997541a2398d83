use super::*;
use crate::firewall::fake::{Call, Recording};
use crate::guard::state::FileMark;

const NOW: i64 = 1_790_000_000;

fn cfg(dir: &Path) -> GuardConfig {
    let text = format!(
        "[guard]\nbackend = \"dry-run\"\nignoreip = [\"198.51.100.0/24\"]\nignoreself = false\nstate_dir = \"{}\"\n\
         [guard.jails.sshd]\nlogpath = [\"/x/auth.log\"]\nmaxretry = 3\nbantime = \"10m\"\nbantime_increment = true\n",
        dir.display()
    );
    config::parse_str(&text, Path::new("t.toml")).unwrap()
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pc-daemon-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn daemon(dir: &Path, rec: &Recording) -> Daemon {
    let cfg = cfg(dir);
    let state = State::open(&dir.join(state::DB_FILE)).unwrap();
    let ignore = IgnoreList::new(cfg.ignoreip.clone());
    Daemon::new(cfg, Box::new(rec.clone()), state, ignore, false, NOW).unwrap()
}

fn lines(ips: &[&str], pos: u64) -> Event {
    let t = Timestamp::from_second(NOW).unwrap();
    let lines = ips
        .iter()
        .map(|ip| {
            (
                format!("Failed password for root from {ip} port 22 ssh2"),
                t,
            )
        })
        .collect();
    let mark = FileMark {
        dev: 1,
        ino: 2,
        pos,
        head: vec![],
    };
    Event::Source(SourceMsg::Lines {
        source: 0,
        lines,
        mark: Some(Mark::File {
            path: "/x/auth.log".into(),
            mark,
        }),
    })
}

/// The one jail's sets, as the daemon sets them up.
fn sshd_sets() -> Vec<BanSet> {
    vec![BanSet {
        name: "sshd".into(),
        scope: crate::firewall::Scope::AllPorts,
    }]
}

fn ask(d: &mut Daemon, req: Request) -> Response {
    let (tx, rx) = mpsc::channel();
    d.handle(Event::Control(req, tx), NOW);
    d.flush();
    rx.recv().unwrap()
}

#[test]
fn a_batch_of_failures_becomes_one_firewall_transaction_and_is_saved() {
    let dir = tmp("batch");
    let rec = Recording::default();
    let mut d = daemon(&dir, &rec);
    assert_eq!(rec.take(), vec![Call::Setup(sshd_sets(), vec![])]);
    let ips = [
        "192.0.2.1",
        "192.0.2.2",
        "198.51.100.5",
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.1",
        "192.0.2.2",
    ];
    d.handle(lines(&ips, 700), NOW);
    d.handle(lines(&["2001:db8::7"; 3], 900), NOW);
    d.flush();
    let secs = 600;
    assert_eq!(
        rec.take(),
        vec![Call::Apply(vec![
            Op::Add {
                set: 0,
                net: "192.0.2.1/32".parse().unwrap(),
                seconds: secs,
                replace: false
            },
            Op::Add {
                set: 0,
                net: "192.0.2.2/32".parse().unwrap(),
                seconds: secs,
                replace: false
            },
            Op::Add {
                set: 0,
                net: "2001:db8::7/128".parse().unwrap(),
                seconds: secs,
                replace: false
            },
        ])]
    );
    let st = State::open(&dir.join(state::DB_FILE)).unwrap();
    assert_eq!(st.current_bans(NOW).unwrap().len(), 3);
    assert_eq!(st.offset("/x/auth.log").unwrap().unwrap().pos, 900);
    let status = d.jail_status(0, NOW, true);
    assert_eq!(status["currently_banned"], 3);
    assert_eq!(
        status["total_failed"], 9,
        "the ignored address is not counted"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn restart_restores_unexpired_bans_in_one_setup_and_increments_repeat_offenders() {
    let dir = tmp("restore");
    let rec = Recording::default();
    {
        let mut d = daemon(&dir, &rec);
        d.handle(lines(&["192.0.2.1"; 3], 10), NOW);
        d.flush();
        let r = ask(
            &mut d,
            Request::Ban {
                jail: "sshd".into(),
                ip: "192.0.2.9".into(),
                seconds: Some(5),
            },
        );
        assert!(r.ok, "{r:?}");
        let r = ask(
            &mut d,
            Request::Ban {
                jail: "sshd".into(),
                ip: "198.51.100.1".into(),
                seconds: None,
            },
        );
        assert!(!r.ok, "ignoreip must not be banned by hand either");
    }
    rec.take();
    // 100 s later the 5 s ban is over; the 10 min one is restored for its remaining 500 s.
    let mut d = {
        let cfg = cfg(&dir);
        let state = State::open(&dir.join(state::DB_FILE)).unwrap();
        Daemon::new(
            cfg,
            Box::new(rec.clone()),
            state,
            IgnoreList::default(),
            false,
            NOW + 100,
        )
        .unwrap()
    };
    assert_eq!(
        rec.take(),
        vec![Call::Setup(
            sshd_sets(),
            vec![(0, "192.0.2.1/32".parse().unwrap(), 500)]
        )]
    );
    // 192.0.2.9 was banned once before: its next ban lasts 2 × 10 min and it weighs 2 per failure.
    let t = Timestamp::from_second(NOW + 100).unwrap();
    let line = (
        "Failed password for root from 192.0.2.9 port 22 ssh2".to_string(),
        t,
    );
    d.handle(
        Event::Source(SourceMsg::Lines {
            source: 0,
            lines: vec![line.clone(), line],
            mark: None,
        }),
        NOW + 100,
    );
    d.flush();
    assert_eq!(
        rec.take(),
        vec![Call::Apply(vec![Op::Add {
            set: 0,
            net: "192.0.2.9/32".parse().unwrap(),
            seconds: 1200,
            replace: false
        }])]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unban_lifts_in_kernel_state_and_jail() {
    let dir = tmp("unban");
    let rec = Recording::default();
    let mut d = daemon(&dir, &rec);
    d.handle(lines(&["192.0.2.1"; 3], 10), NOW);
    d.handle(lines(&["2001:db8::1"; 3], 20), NOW);
    d.flush();
    rec.take();
    let r = ask(
        &mut d,
        Request::Unban {
            ip: Some("192.0.2.1".into()),
            all: false,
        },
    );
    assert_eq!(r.data["unbanned"], 1);
    assert_eq!(
        rec.take(),
        vec![Call::Apply(vec![Op::Remove {
            set: 0,
            net: "192.0.2.1/32".parse().unwrap()
        }])]
    );
    let r = ask(
        &mut d,
        Request::Unban {
            ip: None,
            all: true,
        },
    );
    assert_eq!(r.data["unbanned"], 1);
    assert_eq!(rec.take(), vec![Call::Flush]);
    let st = State::open(&dir.join(state::DB_FILE)).unwrap();
    assert!(st.current_bans(NOW).unwrap().is_empty());
    assert!(
        !ask(
            &mut d,
            Request::Status {
                jail: Some("nope".into()),
                short: false
            }
        )
        .ok
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn reload_applies_new_numbers_and_refuses_a_bad_file() {
    let dir = tmp("reload");
    let rec = Recording::default();
    let file = dir.join("guard.toml");
    let good = |maxretry: u32| {
        format!(
            "[guard]\nbackend = \"dry-run\"\nignoreself = false\n[guard.jails.sshd]\nlogpath = [\"/x/auth.log\"]\n\
             maxretry = {maxretry}\n"
        )
    };
    std::fs::write(&file, good(3)).unwrap();
    let cfg = config::load(&file, true).unwrap();
    let state = State::open(&dir.join(state::DB_FILE)).unwrap();
    let mut d = Daemon::new(
        cfg,
        Box::new(rec.clone()),
        state,
        IgnoreList::default(),
        false,
        NOW,
    )
    .unwrap();
    d.handle(lines(&["192.0.2.1"; 3], 10), NOW);
    d.flush();
    rec.take();

    std::fs::write(
        &file,
        "[guard]\nbackend = \"dry-run\"\n[guard.jails.sshd]\nmaxretry = \"x\"\n",
    )
    .unwrap();
    let r = ask(&mut d, Request::Reload {});
    let err = r.error.unwrap();
    assert!(err.contains(&format!("{}:4:12:", file.display())), "{err}");
    assert_eq!(
        d.jails[0].jail.policy().maxretry,
        3,
        "the running config stays"
    );

    std::fs::write(&file, good(1)).unwrap();
    let r = ask(&mut d, Request::Reload {});
    assert!(r.ok, "{r:?}");
    assert_eq!(d.jails[0].jail.policy().maxretry, 1);
    // The table is put back with the ban in force (what follows an nftables reload).
    assert_eq!(
        rec.take(),
        vec![Call::Setup(
            sshd_sets(),
            vec![(0, "192.0.2.1/32".parse().unwrap(), 600)]
        )]
    );
    d.handle(lines(&["192.0.2.2"], 20), NOW);
    d.flush();
    assert_eq!(rec.take().len(), 1, "maxretry 1 bans at the first failure");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A fail2ban-style jail on the generic engine, with `bantime.overalljails` when `overall`.
fn fail2ban_jail(name: &str, overall: bool, firewall: bool) -> JailConfig {
    use crate::guard::filter::definition::{FilterDefinition, Located, Origin};
    let mut j = cfg(Path::new("/nonexistent")).jails["sshd"].clone();
    j.name = name.into();
    j.bantime_increment = true;
    j.fail2ban = Some(Box::new(config::Fail2banParts {
        filter: std::sync::Arc::new(FilterDefinition {
            name: "t".into(),
            failregex: vec![Located {
                value: r"^Failed password for \S+ from <HOST> port \d+ ssh2$".into(),
                origin: Origin::default(),
            }],
            maxlines: 1,
            ..FilterDefinition::default()
        }),
        use_dns: "no".into(),
        logtimezone: None,
        ignoreip: vec![],
        ignoreself: false,
        firewall,
        multipliers: vec![],
        rndtime: None,
        overalljails: overall,
        actions: vec![],
        shell_actions: vec![],
    }));
    j
}

#[test]
fn overalljails_counts_earlier_bans_of_other_jails_and_a_jail_without_ban_action_stays_out_of_the_firewall()
 {
    let dir = tmp("overall");
    let rec = Recording::default();
    let mut c = cfg(&dir);
    c.jails.clear();
    for j in [
        fail2ban_jail("a", false, true),
        fail2ban_jail("b", true, true),
        fail2ban_jail("c", false, false),
    ] {
        c.jails.insert(j.name.clone(), j);
    }
    let state = State::open(&dir.join(state::DB_FILE)).unwrap();
    let mut d = Daemon::new(
        c,
        Box::new(rec.clone()),
        state,
        IgnoreList::default(),
        false,
        NOW,
    )
    .unwrap();
    rec.take();
    // Jail "a" bans 192.0.2.40 (its lines come from source 0), then "b" does: its first ban of
    // that address is already its second over all jails, so it is doubled.
    for (source, _) in [(0usize, "a"), (1, "b"), (2, "c")] {
        let Event::Source(SourceMsg::Lines { lines, .. }) = lines(&["192.0.2.40"; 3], 1) else {
            unreachable!()
        };
        d.handle(
            Event::Source(SourceMsg::Lines {
                source,
                lines,
                mark: None,
            }),
            NOW,
        );
        d.flush();
    }
    let bans: Vec<(String, i64)> = d
        .jails
        .iter()
        .flat_map(|r| {
            r.jail
                .bans()
                .into_iter()
                .map(|b| (r.jail.name.clone(), b.seconds()))
        })
        .collect();
    assert_eq!(
        bans,
        [("a".into(), 600), ("b".into(), 1200), ("c".into(), 600)]
    );
    // Only "a" and "b" reached the firewall.
    let sets: Vec<usize> = rec
        .take()
        .into_iter()
        .flat_map(|c| match c {
            Call::Apply(ops) => ops
                .into_iter()
                .map(|o| match o {
                    Op::Add { set, .. } | Op::Remove { set, .. } => set,
                })
                .collect(),
            _ => vec![],
        })
        .collect();
    assert_eq!(sets, [0, 1]);
}
