//! The nftables driver: our own table `inet portcullis` with a pair of sets per jail (`JAIL_v4`,
//! `JAIL_v6`) whose elements carry kernel-side timeouts, so a ban expires even if the daemon is
//! dead; each pair is dropped on every port or on the jail's ports only. Every batch is one `nft -f -`
//! run, which nft applies as one transaction. Script text is built by pure functions (unit-tested);
//! only `run` spawns a process, with an argument vector and the script on stdin.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use ipnet::IpNet;

use super::{BanSet, Driver, DriverError, Op, Scope, SetBan};

pub const TABLE: &str = "inet portcullis";

/// Longer timeouts are refused by some kernels; such bans go in without a timeout and the daemon
/// removes them when they end.
pub const MAX_KERNEL_TIMEOUT: u64 = 30 * 86_400;

#[derive(Debug, Clone)]
pub struct Nft {
    pub program: String,
    /// Whole IPv6 prefixes are banned, so the IPv6 sets need `flags interval`.
    pub v6_prefixes: bool,
    /// Set names of the jails, from the last setup.
    bases: Vec<String>,
}

impl Nft {
    pub fn new(v6_prefix: u8) -> Self {
        Nft {
            program: "nft".into(),
            v6_prefixes: v6_prefix < 128,
            bases: Vec::new(),
        }
    }

    fn run(&self, script: &str) -> Result<(), DriverError> {
        let mut child = Command::new(&self.program)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| DriverError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        // Write from a thread: nft may print errors before reading all of a large script.
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let script = script.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out = child
            .wait_with_output()
            .map_err(|source| DriverError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        let _ = writer.join();
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Err(DriverError::Failed {
                program: self.program.clone(),
                status: out.status.to_string(),
                stderr: stderr.chars().take(2000).collect(),
            })
        }
    }
}

/// The nft set names of each jail's sets: the jail name with anything but letters, digits and
/// `_` made `_` (nft identifiers), made unique, then `_v4`/`_v6`.
pub fn set_bases(sets: &[BanSet]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(sets.len());
    for set in sets {
        let mut base: String = set
            .name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if !base.starts_with(|c: char| c.is_ascii_alphabetic()) {
            base.insert_str(0, "j_");
        }
        let mut unique = base.clone();
        let mut n = 2;
        while out.contains(&unique) {
            unique = format!("{base}_{n}");
            n += 1;
        }
        out.push(unique);
    }
    out
}

fn set_of(base: &str, net: &IpNet) -> String {
    match net {
        IpNet::V4(_) => format!("{base}_v4"),
        IpNet::V6(_) => format!("{base}_v6"),
    }
}

/// `192.0.2.1` for a host, `2001:db8::/64` for a prefix.
fn element(net: &IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

fn timeout(seconds: u64) -> String {
    if seconds > MAX_KERNEL_TIMEOUT {
        String::new()
    } else {
        format!(" timeout {}s", seconds.max(1))
    }
}

/// The rules that drop a jail's banned addresses: everything, or its ports only.
fn drop_rules(base: &str, scope: &Scope) -> String {
    let mut s = String::new();
    let sets = [("ip", format!("{base}_v4")), ("ip6", format!("{base}_v6"))];
    match scope {
        Scope::AllPorts => {
            for (family, set) in &sets {
                let _ = writeln!(s, "\t\t{family} saddr @{set} drop");
            }
        }
        Scope::Ports { protocols, ports } => {
            let ports: Vec<String> = ports.iter().map(|p| p.to_string()).collect();
            let protos: Vec<&str> = protocols.iter().map(|p| p.name()).collect();
            for (family, set) in &sets {
                let _ = writeln!(
                    s,
                    "\t\tmeta l4proto {{ {} }} th dport {{ {} }} {family} saddr @{set} drop",
                    protos.join(", "),
                    ports.join(", ")
                );
            }
        }
    }
    s
}

/// The whole table, replaced atomically (`add` then `delete` makes the delete safe when it is
/// absent): a pair of sets per jail, their drop rules, and every ban in force.
pub fn setup_script(v6_prefixes: bool, sets: &[BanSet], bans: &[SetBan]) -> String {
    let v6_flags = if v6_prefixes {
        "interval, timeout"
    } else {
        "timeout"
    };
    let bases = set_bases(sets);
    let mut s = format!("add table {TABLE}\ndelete table {TABLE}\ntable {TABLE} {{\n");
    for base in &bases {
        let _ = writeln!(s, "\tset {base}_v4 {{ type ipv4_addr; flags timeout; }}");
        let _ = writeln!(s, "\tset {base}_v6 {{ type ipv6_addr; flags {v6_flags}; }}");
    }
    s.push_str(
        "\tchain input {\n\t\ttype filter hook input priority filter - 10; policy accept;\n",
    );
    for (base, set) in bases.iter().zip(sets) {
        s.push_str(&drop_rules(base, &set.scope));
    }
    s.push_str("\t}\n}\n");
    let mut by_set: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, net, secs) in bans {
        let Some(base) = bases.get(*i) else { continue };
        by_set.entry(set_of(base, net)).or_default().push(format!(
            "{}{}",
            element(net),
            timeout(*secs)
        ));
    }
    for (set, elements) in by_set {
        let _ = writeln!(s, "add element {TABLE} {set} {{ {} }}", elements.join(", "));
    }
    s
}

/// A batch of changes, as at most three statements per set however many elements it holds (nft's
/// cost is per statement): the last op per set and network wins; elements to remove or replace
/// are first added with a 1 s timeout so that deleting them never fails when they are absent
/// (expired already), then deleted; then every add goes in with its timeout. Ops naming a set
/// that does not exist are left out.
pub fn batch_script(bases: &[String], ops: &[Op]) -> String {
    let mut last: Vec<&Op> = Vec::new();
    let mut seen = HashMap::new();
    for op in ops {
        let key = match op {
            Op::Add { set, net, .. } | Op::Remove { set, net } => (*set, *net),
        };
        match seen.get(&key) {
            Some(&i) => last[i] = op,
            None => {
                seen.insert(key, last.len());
                last.push(op);
            }
        }
    }
    // Per nft set, in order of first appearance: elements to clear, elements to add.
    let mut order: Vec<String> = Vec::new();
    let mut work: HashMap<String, (Vec<String>, Vec<String>)> = HashMap::new();
    for op in last {
        let (set, net) = match op {
            Op::Add { set, net, .. } | Op::Remove { set, net } => (*set, net),
        };
        let Some(base) = bases.get(set) else { continue };
        let name = set_of(base, net);
        if !work.contains_key(&name) {
            order.push(name.clone());
        }
        let (clear, add) = work.entry(name).or_default();
        match op {
            Op::Add {
                net,
                seconds,
                replace,
                ..
            } => {
                if *replace {
                    clear.push(element(net));
                }
                add.push(format!("{}{}", element(net), timeout(*seconds)));
            }
            Op::Remove { net, .. } => clear.push(element(net)),
        }
    }
    let mut s = String::new();
    for set in order {
        let (clear, add) = &work[&set];
        if !clear.is_empty() {
            let with_timeout: Vec<String> =
                clear.iter().map(|e| format!("{e} timeout 1s")).collect();
            let _ = writeln!(
                s,
                "add element {TABLE} {set} {{ {} }}",
                with_timeout.join(", ")
            );
            let _ = writeln!(s, "delete element {TABLE} {set} {{ {} }}", clear.join(", "));
        }
        if !add.is_empty() {
            let _ = writeln!(s, "add element {TABLE} {set} {{ {} }}", add.join(", "));
        }
    }
    s
}

impl Driver for Nft {
    fn setup(&mut self, sets: &[BanSet], bans: &[SetBan]) -> Result<(), DriverError> {
        self.run(&setup_script(self.v6_prefixes, sets, bans))?;
        self.bases = set_bases(sets);
        Ok(())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        let script = batch_script(&self.bases, ops);
        if script.is_empty() {
            return Ok(());
        }
        self.run(&script)
    }

    fn flush(&mut self) -> Result<(), DriverError> {
        let mut script = String::new();
        for base in &self.bases {
            let _ = writeln!(
                script,
                "flush set {TABLE} {base}_v4\nflush set {TABLE} {base}_v6"
            );
        }
        if script.is_empty() {
            return Ok(());
        }
        self.run(&script)
    }

    fn name(&self) -> &'static str {
        "nftables"
    }
}

/// Addresses currently in our sets, read back with `nft -j` (for tests and `guard status --kernel`).
pub fn list_set(program: &str, set: &str) -> Result<Vec<IpAddr>, DriverError> {
    let out = Command::new(program)
        .args(["-j", "list", "set", "inet", "portcullis", set])
        .output()
        .map_err(|source| DriverError::Spawn {
            program: program.into(),
            source,
        })?;
    if !out.status.success() {
        return Err(DriverError::Failed {
            program: program.into(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(parse_set_json(&String::from_utf8_lossy(&out.stdout)))
}

/// Pull the addresses (or prefix starts) out of `nft -j list set` output.
pub fn parse_set_json(json: &str) -> Vec<IpAddr> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let items = v
        .get("nftables")
        .and_then(|n| n.as_array())
        .cloned()
        .unwrap_or_default();
    for item in items {
        let Some(elems) = item.pointer("/set/elem").and_then(|e| e.as_array()) else {
            continue;
        };
        for e in elems {
            // Plain `"192.0.2.1"`, `{"elem": {"val": ..., "timeout": ..}}`, or a `{"prefix": {"addr": ..}}`.
            let val = e.pointer("/elem/val").unwrap_or(e);
            let addr = val
                .as_str()
                .or_else(|| val.pointer("/prefix/addr").and_then(|a| a.as_str()));
            if let Some(ip) = addr.and_then(|a| a.parse().ok()) {
                out.push(ip);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn sets() -> Vec<BanSet> {
        use super::super::scope::{PortRange, Protocol};
        vec![
            BanSet {
                name: "sshd".into(),
                scope: Scope::Ports {
                    protocols: vec![Protocol::Tcp],
                    ports: vec![
                        PortRange {
                            first: 22,
                            last: 22,
                        },
                        PortRange {
                            first: 2222,
                            last: 2222,
                        },
                    ],
                },
            },
            BanSet {
                name: "recidive".into(),
                scope: Scope::AllPorts,
            },
        ]
    }

    #[test]
    fn setup_replaces_the_table_with_a_pair_of_sets_per_jail_and_loads_bans() {
        let s = setup_script(
            false,
            &sets(),
            &[
                (0, net("192.0.2.1/32"), 60),
                (1, net("2001:db8::1/128"), 7),
                (0, net("192.0.2.2/32"), 5),
            ],
        );
        assert!(s.starts_with("add table inet portcullis\ndelete table inet portcullis\n"));
        assert!(s.contains("set sshd_v4 { type ipv4_addr; flags timeout; }"));
        assert!(s.contains("set recidive_v6 { type ipv6_addr; flags timeout; }"));
        assert!(s.contains("priority filter - 10"));
        assert!(s.contains("meta l4proto { tcp } th dport { 22, 2222 } ip saddr @sshd_v4 drop\n"));
        assert!(s.contains("\t\tip6 saddr @recidive_v6 drop\n"));
        assert!(s.contains(
            "add element inet portcullis sshd_v4 { 192.0.2.1 timeout 60s, 192.0.2.2 timeout 5s }\n"
        ));
        assert!(s.contains("add element inet portcullis recidive_v6 { 2001:db8::1 timeout 7s }\n"));
        assert!(setup_script(true, &sets(), &[]).contains("flags interval, timeout"));
    }

    #[test]
    fn set_names_are_nft_identifiers_and_unique() {
        let named = |n: &str| BanSet {
            name: n.into(),
            scope: Scope::AllPorts,
        };
        let bases = set_bases(&[
            named("nginx-http-auth"),
            named("nginx_http_auth"),
            named("3proxy"),
        ]);
        assert_eq!(bases, ["nginx_http_auth", "nginx_http_auth_2", "j_3proxy"]);
    }

    #[test]
    fn batch_is_three_statements_per_set_at_most() {
        let bases = set_bases(&sets());
        let s = batch_script(
            &bases,
            &[
                Op::Add {
                    set: 0,
                    net: net("2001:db8::/64"),
                    seconds: 3600,
                    replace: true,
                },
                Op::Remove {
                    set: 0,
                    net: net("192.0.2.9/32"),
                },
                Op::Add {
                    set: 0,
                    net: net("192.0.2.1/32"),
                    seconds: 60,
                    replace: false,
                },
                Op::Add {
                    set: 0,
                    net: net("192.0.2.2/32"),
                    seconds: 60,
                    replace: false,
                },
                // Another jail's ban of the same address is its own element.
                Op::Add {
                    set: 1,
                    net: net("192.0.2.2/32"),
                    seconds: 600,
                    replace: false,
                },
                // The last op per set and address wins: 192.0.2.2 ends up removed from sshd's.
                Op::Remove {
                    set: 0,
                    net: net("192.0.2.2/32"),
                },
                // A set that does not exist is left out.
                Op::Remove {
                    set: 7,
                    net: net("192.0.2.3/32"),
                },
            ],
        );
        assert_eq!(
            s,
            "add element inet portcullis sshd_v6 { 2001:db8::/64 timeout 1s }\n\
             delete element inet portcullis sshd_v6 { 2001:db8::/64 }\n\
             add element inet portcullis sshd_v6 { 2001:db8::/64 timeout 3600s }\n\
             add element inet portcullis sshd_v4 { 192.0.2.9 timeout 1s, 192.0.2.2 timeout 1s }\n\
             delete element inet portcullis sshd_v4 { 192.0.2.9, 192.0.2.2 }\n\
             add element inet portcullis sshd_v4 { 192.0.2.1 timeout 60s }\n\
             add element inet portcullis recidive_v4 { 192.0.2.2 timeout 600s }\n"
        );
    }

    #[test]
    fn very_long_bans_go_in_without_a_kernel_timeout() {
        let s = batch_script(
            &set_bases(&sets()),
            &[Op::Add {
                set: 1,
                net: net("192.0.2.1/32"),
                seconds: MAX_KERNEL_TIMEOUT + 1,
                replace: false,
            }],
        );
        assert_eq!(s, "add element inet portcullis recidive_v4 { 192.0.2.1 }\n");
    }

    #[test]
    fn reads_nft_json_elements() {
        let json = r#"{"nftables": [{"metainfo": {}}, {"set": {"family": "inet", "name": "sshd_v4", "elem": [
            {"elem": {"val": "192.0.2.1", "timeout": 60, "expires": 58}}, "192.0.2.2",
            {"elem": {"val": {"prefix": {"addr": "2001:db8::", "len": 64}}, "timeout": 5}}]}}]}"#;
        let ips: Vec<String> = parse_set_json(json).iter().map(|i| i.to_string()).collect();
        assert_eq!(ips, ["192.0.2.1", "192.0.2.2", "2001:db8::"]);
        assert!(parse_set_json("not json").is_empty());
    }
}
