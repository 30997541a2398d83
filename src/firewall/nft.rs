//! The nftables driver: our own table `inet portcullis` with sets `ban4`/`ban6` whose elements carry
//! kernel-side timeouts, so a ban expires even if the daemon is dead. Every batch is one `nft -f -`
//! run, which nft applies as one transaction. Script text is built by pure functions (unit-tested);
//! only `run` spawns a process, with an argument vector and the script on stdin.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::process::{Command, Stdio};

use ipnet::IpNet;

use super::{Driver, DriverError, Op};

pub const TABLE: &str = "inet portcullis";

/// Longer timeouts are refused by some kernels; such bans go in without a timeout and the daemon
/// removes them when they end.
pub const MAX_KERNEL_TIMEOUT: u64 = 30 * 86_400;

#[derive(Debug, Clone)]
pub struct Nft {
    pub program: String,
    /// Whole IPv6 prefixes are banned, so `ban6` needs `flags interval`.
    pub v6_prefixes: bool,
}

impl Nft {
    pub fn new(v6_prefix: u8) -> Self {
        Nft {
            program: "nft".into(),
            v6_prefixes: v6_prefix < 128,
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

fn set_of(net: &IpNet) -> &'static str {
    match net {
        IpNet::V4(_) => "ban4",
        IpNet::V6(_) => "ban6",
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

/// The whole table, replaced atomically: `add` then `delete` makes the delete safe when it is absent.
pub fn setup_script(v6_prefixes: bool, bans: &[(IpNet, u64)]) -> String {
    let v6_flags = if v6_prefixes {
        "interval, timeout"
    } else {
        "timeout"
    };
    let mut s = format!(
        "add table {TABLE}\n\
         delete table {TABLE}\n\
         table {TABLE} {{\n\
         \tset ban4 {{ type ipv4_addr; flags timeout; }}\n\
         \tset ban6 {{ type ipv6_addr; flags {v6_flags}; }}\n\
         \tchain input {{\n\
         \t\ttype filter hook input priority filter - 10; policy accept;\n\
         \t\tip saddr @ban4 drop\n\
         \t\tip6 saddr @ban6 drop\n\
         \t}}\n\
         }}\n"
    );
    for set in ["ban4", "ban6"] {
        let mut first = true;
        for (net, secs) in bans.iter().filter(|(n, _)| set_of(n) == set) {
            s.push_str(if first {
                "add element inet portcullis "
            } else {
                ", "
            });
            if first {
                s.push_str(set);
                s.push_str(" { ");
                first = false;
            }
            s.push_str(&element(net));
            s.push_str(&timeout(*secs));
        }
        if !first {
            s.push_str(" }\n");
        }
    }
    s
}

/// A batch of changes, as at most three statements per set however many elements it holds (nft's
/// cost is per statement): the last op per network wins; elements to remove or replace are first
/// added with a 1 s timeout so that deleting them never fails when they are absent (expired already),
/// then deleted; then every add goes in with its timeout.
pub fn batch_script(ops: &[Op]) -> String {
    let mut last: Vec<&Op> = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for op in ops {
        let net = match op {
            Op::Add { net, .. } | Op::Remove { net } => *net,
        };
        match seen.get(&net) {
            Some(&i) => last[i] = op,
            None => {
                seen.insert(net, last.len());
                last.push(op);
            }
        }
    }
    let mut s = String::new();
    for set in ["ban4", "ban6"] {
        let mut clear = Vec::new();
        let mut add = Vec::new();
        for op in last.iter().filter(|op| match op {
            Op::Add { net, .. } | Op::Remove { net } => set_of(net) == set,
        }) {
            match op {
                Op::Add {
                    net,
                    seconds,
                    replace,
                } => {
                    if *replace {
                        clear.push(element(net));
                    }
                    add.push(format!("{}{}", element(net), timeout(*seconds)));
                }
                Op::Remove { net } => clear.push(element(net)),
            }
        }
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
    fn setup(&mut self, bans: &[(IpNet, u64)]) -> Result<(), DriverError> {
        self.run(&setup_script(self.v6_prefixes, bans))
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.run(&batch_script(ops))
    }

    fn flush(&mut self) -> Result<(), DriverError> {
        self.run(&format!("flush set {TABLE} ban4\nflush set {TABLE} ban6\n"))
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

    #[test]
    fn setup_replaces_the_table_and_loads_bans_in_one_script() {
        let s = setup_script(
            false,
            &[
                (net("192.0.2.1/32"), 60),
                (net("2001:db8::1/128"), 7),
                (net("192.0.2.2/32"), 5),
            ],
        );
        assert!(s.starts_with("add table inet portcullis\ndelete table inet portcullis\n"));
        assert!(s.contains("set ban6 { type ipv6_addr; flags timeout; }"));
        assert!(s.contains("priority filter - 10"));
        assert!(s.contains(
            "add element inet portcullis ban4 { 192.0.2.1 timeout 60s, 192.0.2.2 timeout 5s }\n"
        ));
        assert!(s.contains("add element inet portcullis ban6 { 2001:db8::1 timeout 7s }\n"));
        assert!(setup_script(true, &[]).contains("flags interval, timeout"));
    }

    #[test]
    fn batch_is_three_statements_per_set_at_most() {
        let s = batch_script(&[
            Op::Add {
                net: net("2001:db8::/64"),
                seconds: 3600,
                replace: true,
            },
            Op::Remove {
                net: net("192.0.2.9/32"),
            },
            Op::Add {
                net: net("192.0.2.1/32"),
                seconds: 60,
                replace: false,
            },
            Op::Add {
                net: net("192.0.2.2/32"),
                seconds: 60,
                replace: false,
            },
            // The last op per address wins: 192.0.2.2 ends up removed.
            Op::Remove {
                net: net("192.0.2.2/32"),
            },
        ]);
        assert_eq!(
            s,
            "add element inet portcullis ban4 { 192.0.2.9 timeout 1s, 192.0.2.2 timeout 1s }\n\
             delete element inet portcullis ban4 { 192.0.2.9, 192.0.2.2 }\n\
             add element inet portcullis ban4 { 192.0.2.1 timeout 60s }\n\
             add element inet portcullis ban6 { 2001:db8::/64 timeout 1s }\n\
             delete element inet portcullis ban6 { 2001:db8::/64 }\n\
             add element inet portcullis ban6 { 2001:db8::/64 timeout 3600s }\n"
        );
    }

    #[test]
    fn very_long_bans_go_in_without_a_kernel_timeout() {
        let s = batch_script(&[Op::Add {
            net: net("192.0.2.1/32"),
            seconds: MAX_KERNEL_TIMEOUT + 1,
            replace: false,
        }]);
        assert_eq!(s, "add element inet portcullis ban4 { 192.0.2.1 }\n");
    }

    #[test]
    fn reads_nft_json_elements() {
        let json = r#"{"nftables": [{"metainfo": {}}, {"set": {"family": "inet", "name": "ban4", "elem": [
            {"elem": {"val": "192.0.2.1", "timeout": 60, "expires": 58}}, "192.0.2.2",
            {"elem": {"val": {"prefix": {"addr": "2001:db8::", "len": 64}}, "timeout": 5}}]}}]}"#;
        let ips: Vec<String> = parse_set_json(json).iter().map(|i| i.to_string()).collect();
        assert_eq!(ips, ["192.0.2.1", "192.0.2.2", "2001:db8::"]);
        assert!(parse_set_json("not json").is_empty());
    }
}
