//! Jail reading against fail2ban's own `JailsReader` (tests/fail2ban_pkg/jail_conf_dump.py) on
//! the package's /etc/fail2ban (linked into a temporary directory) with jail.local files of our
//! own: a hardening guide's, every jail of jail.conf enabled (file and systemd backends), and
//! fixtures with jail-level regexes, several actions and jails fail2ban refuses. Per jail: which
//! jails run or fail, the filter as the jail runs it, the actions with their options, and the
//! jail's numbers and sources.

mod fail2ban_pkg;

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis::guard::fail2ban::jails::{JailSpec, as_bool, read};
use serde_json::{Value, json};

struct Etc {
    dir: PathBuf,
}

impl Etc {
    fn new(tag: &str, jail_local: &str, extra: &[(&str, &str)]) -> Etc {
        let pkg = fail2ban_pkg::config_dir();
        let dir = std::env::temp_dir().join(format!("pc-jail-diff-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("jail.d")).unwrap();
        for entry in std::fs::read_dir(&pkg).unwrap().flatten() {
            let name = entry.file_name();
            if name != "jail.d" {
                std::os::unix::fs::symlink(entry.path(), dir.join(&name)).unwrap();
            }
        }
        std::fs::write(dir.join("jail.local"), jail_local).unwrap();
        for (path, text) in extra {
            std::fs::write(dir.join(path), text).unwrap();
        }
        Etc { dir }
    }
}

impl Drop for Etc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn fail2ban(dir: &Path) -> Value {
    let root = fail2ban_pkg::root();
    let out = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fail2ban_pkg/jail_conf_dump.py"
        ))
        .arg(dir)
        .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Our value of a jail option in the type fail2ban converted it to.
fn typed(ours: Option<&str>, theirs: &Value) -> Value {
    match (ours, theirs) {
        (None, _) => Value::Null,
        (Some(t), Value::Bool(_)) => json!(as_bool(t)),
        (Some(t), Value::Number(_)) => t.trim().parse::<i64>().map_or(Value::Null, |n| json!(n)),
        (Some(t), _) => json!(t),
    }
}

fn filter_json(j: &JailSpec) -> Value {
    let Some(d) = &j.filter else {
        return Value::Null;
    };
    let lines = |v: &[portcullis::guard::filter::definition::Located<String>]| {
        v.iter().map(|l| l.value.clone()).collect::<Vec<_>>()
    };
    json!({
        "prefregex": d.prefregex.as_ref().map(|l| l.value.clone()),
        "failregex": lines(&d.failregex),
        "ignoreregex": lines(&d.ignoreregex),
        "datepattern": d.datepattern.as_ref().map(|l| l.value.clone()),
        "maxlines": d.maxlines,
        "journalmatch": d.journalmatch,
    })
}

/// Compare every jail; returns (identical, total) and prints each difference.
fn compare(dir: &Path) -> (usize, usize) {
    let theirs = fail2ban(dir);
    let ours = read(dir).unwrap();
    let theirs = theirs["jails"].as_array().cloned().unwrap_or_default();
    let mut same = 0;
    for t in &theirs {
        let name = t["name"].as_str().unwrap();
        let Some(o) = ours.jails.iter().find(|j| match j {
            Ok(s) => s.name == name,
            Err(e) => e.jail == name,
        }) else {
            eprintln!("{name}: fail2ban runs it (or refuses it), we do not have it");
            continue;
        };
        let mut diffs = Vec::new();
        match (o, t["error"].is_null()) {
            (Err(e), true) => diffs.push(format!("we refuse it ({e}), fail2ban runs it")),
            (Ok(_), false) => {
                diffs.push(format!("fail2ban refuses it ({}), we run it", t["error"]))
            }
            (Err(_), false) => {}
            (Ok(spec), true) => {
                let mut filter = t["filter"].clone();
                if let Some(f) = filter.as_object_mut() {
                    let n = f
                        .get("maxlines")
                        .and_then(|v| {
                            v.as_str()
                                .and_then(|s| s.parse::<i64>().ok())
                                .or(v.as_i64())
                        })
                        .unwrap_or(1)
                        .max(1);
                    f.insert("maxlines".into(), json!(n));
                    f.remove("usedns");
                }
                if filter != filter_json(spec) {
                    diffs.push(format!(
                        "filter:\n  fail2ban {filter}\n  ours     {}",
                        filter_json(spec)
                    ));
                }
                let acts: Vec<Value> = spec
                    .actions
                    .iter()
                    .map(|a| json!([a.name, a.options]))
                    .collect();
                if t["actions"] != json!(acts) {
                    diffs.push(format!(
                        "actions: fail2ban {} ours {}",
                        t["actions"],
                        json!(acts)
                    ));
                }
                for (k, v) in t["options"].as_object().into_iter().flatten() {
                    if k == "action"
                        || (k.contains("regex") || k == "datepattern" || k == "journalmatch")
                    {
                        continue;
                    }
                    let mine = typed(spec.get(k), v);
                    if &mine != v {
                        diffs.push(format!("option {k}: fail2ban {v} ours {mine}"));
                    }
                }
            }
        }
        if diffs.is_empty() {
            same += 1;
        } else {
            eprintln!("{name}:\n  {}", diffs.join("\n  "));
        }
    }
    let enabled_ours = ours.jails.len();
    if enabled_ours != theirs.len() {
        eprintln!(
            "fail2ban lists {} jails, we list {enabled_ours}",
            theirs.len()
        );
    }
    (same, theirs.len())
}

const GUIDE: &str = "[DEFAULT]
ignoreip = 127.0.0.1/8 203.0.113.7
bantime = 3600
findtime = 600
maxretry = 3
destemail = admin@example.com
sender = fail2ban@example.com
action = %(action_mwl)s

[sshd]
enabled = true
mode = aggressive
port = 2222
backend = systemd
bantime.increment = true

[nginx-http-auth]
enabled = true
logpath = /dev/null

[postfix]
enabled = true
backend = systemd

[dovecot]
enabled = true
backend = systemd

[recidive]
enabled = true
logpath = /dev/null
";

#[test]
fn jails_read_as_fail2ban_reads_them() {
    let fixtures = "[sshd-ddos]
enabled = yes
filter = sshd[mode=ddos]
port = ssh
logpath = /var/log/auth.log
          /var/log/secure tail
failregex = %(known/failregex)s
            ^extra <HOST>$
maxlines = 3
journalmatch = _COMM=sshd
action = iptables-multiport[name=ssh, port=\"22,2222\"]
         sendmail-whois[dest=%(destemail)s]

[nofilter]
enabled = true
filter = no-such-filter
logpath = /dev/null

[noaction]
enabled = true
filter = sshd
action = no-such-action
logpath = /dev/null

[badopts]
enabled = on
filter = sshd[mode]
logpath = /dev/null
";
    let cases = [
        ("guide", GUIDE.to_string(), vec![]),
        (
            "fixtures",
            GUIDE.to_string(),
            vec![("jail.d/custom.local", fixtures)],
        ),
        ("all", "[DEFAULT]\nenabled = true\n".to_string(), vec![]),
        (
            "all-systemd",
            "[DEFAULT]\nenabled = true\nbackend = systemd\naction = %(action_mwl)s\n".to_string(),
            vec![],
        ),
    ];
    let mut failed = Vec::new();
    for (tag, local, extra) in cases {
        let etc = Etc::new(tag, &local, &extra);
        let (same, total) = compare(&etc.dir);
        eprintln!("{tag}: {same}/{total} jails identical");
        if same != total || total == 0 {
            failed.push(tag);
        }
    }
    assert!(
        failed.is_empty(),
        "jails differ from fail2ban's in {failed:?}"
    );
}
