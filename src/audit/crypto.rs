//! `ssh.crypto`: ciphers, MACs and key exchange against a hardened list, aware of the OpenSSH version.

use crate::host::SshdFacts;
use crate::host::root::glob_match;
use crate::profile::Crypto;

use super::ssh::effective;
use super::{Finding, Severity, Spec};

/// Refused in every mode: broken or obsolete.
fn broken(kind: Kind, alg: &str) -> Option<&'static str> {
    let a = alg.to_ascii_lowercase();
    match kind {
        Kind::Cipher if a.ends_with("-cbc") || a.contains("cbc@") => Some("CBC mode"),
        Kind::Cipher
            if a.starts_with("arcfour")
                || a.starts_with("3des")
                || a.starts_with("blowfish")
                || a.starts_with("cast128") =>
        {
            Some("obsolete cipher")
        }
        Kind::Mac
            if a.contains("md5")
                || a.contains("ripemd")
                || a.contains("-96")
                || a.starts_with("umac-32") =>
        {
            Some("weak MAC")
        }
        Kind::Kex
            if a.contains("group1-")
                || a.ends_with("group14-sha1")
                || a.contains("group-exchange-sha1")
                || a.ends_with("-sha1-") =>
        {
            Some("SHA-1 / 1024-bit key exchange")
        }
        _ => None,
    }
}

/// Refused or questioned by ssh-audit's hardened policies. (fail?, reason)
fn hardened_issue(kind: Kind, alg: &str) -> Option<(bool, &'static str)> {
    let a = alg.to_ascii_lowercase();
    match kind {
        Kind::Mac if a.contains("sha1") => Some((true, "SHA-1 MAC")),
        Kind::Mac if a.starts_with("umac-64") => Some((false, "64-bit tag")),
        Kind::Mac if !a.contains("-etm@") => Some((false, "encrypt-and-MAC (not EtM)")),
        Kind::Kex if a.starts_with("ecdh-sha2-nistp") => Some((true, "NIST curve")),
        Kind::Kex if a == "diffie-hellman-group14-sha256" => Some((false, "2048-bit modulus")),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cipher,
    Mac,
    Kex,
}

impl Kind {
    fn keyword(self) -> &'static str {
        match self {
            Kind::Cipher => "Ciphers",
            Kind::Mac => "MACs",
            Kind::Kex => "KexAlgorithms",
        }
    }
}

/// OpenSSH's default lists by version (what sshd offers when the keyword is not set).
fn defaults(kind: Kind, version: Option<(u32, u32)>) -> Vec<&'static str> {
    let v = version.unwrap_or((9, 0));
    match kind {
        Kind::Cipher => vec![
            "chacha20-poly1305@openssh.com",
            "aes128-ctr",
            "aes192-ctr",
            "aes256-ctr",
            "aes128-gcm@openssh.com",
            "aes256-gcm@openssh.com",
        ],
        Kind::Mac => vec![
            "umac-64-etm@openssh.com",
            "umac-128-etm@openssh.com",
            "hmac-sha2-256-etm@openssh.com",
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha1-etm@openssh.com",
            "umac-64@openssh.com",
            "umac-128@openssh.com",
            "hmac-sha2-256",
            "hmac-sha2-512",
            "hmac-sha1",
        ],
        Kind::Kex => {
            let mut k = Vec::new();
            if v >= (9, 9) {
                k.push("mlkem768x25519-sha256");
            }
            if v >= (9, 0) {
                k.push("sntrup761x25519-sha512@openssh.com");
            }
            k.extend([
                "curve25519-sha256",
                "curve25519-sha256@libssh.org",
                "ecdh-sha2-nistp256",
                "ecdh-sha2-nistp384",
                "ecdh-sha2-nistp521",
                "diffie-hellman-group-exchange-sha256",
                "diffie-hellman-group16-sha512",
                "diffie-hellman-group18-sha512",
                "diffie-hellman-group14-sha256",
            ]);
            k
        }
    }
}

/// The hardened lists to recommend for this OpenSSH version (post-quantum kex only where the version has it).
fn recommended(kind: Kind, version: Option<(u32, u32)>) -> Vec<&'static str> {
    let v = version.unwrap_or((0, 0));
    match kind {
        Kind::Cipher => vec![
            "chacha20-poly1305@openssh.com",
            "aes256-gcm@openssh.com",
            "aes256-ctr",
            "aes192-ctr",
            "aes128-gcm@openssh.com",
            "aes128-ctr",
        ],
        Kind::Mac => vec![
            "hmac-sha2-512-etm@openssh.com",
            "hmac-sha2-256-etm@openssh.com",
            "umac-128-etm@openssh.com",
        ],
        Kind::Kex => {
            let mut k = Vec::new();
            if v >= (9, 9) {
                k.push("mlkem768x25519-sha256");
            }
            if v >= (8, 5) {
                k.push("sntrup761x25519-sha512@openssh.com");
            }
            k.extend([
                "curve25519-sha256",
                "curve25519-sha256@libssh.org",
                "diffie-hellman-group18-sha512",
                "diffie-hellman-group-exchange-sha256",
                "diffie-hellman-group16-sha512",
            ]);
            k
        }
    }
}

/// Applies sshd's list syntax: `+x` appends to the defaults, `-x` removes (globs allowed), `^x` prepends.
fn resolve(value: &str, defaults: &[&str]) -> Vec<String> {
    let defaults: Vec<String> = defaults.iter().map(|s| s.to_string()).collect();
    let split = |s: &str| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect::<Vec<_>>()
    };
    if let Some(rest) = value.strip_prefix('+') {
        let mut v = defaults;
        v.extend(split(rest));
        v
    } else if let Some(rest) = value.strip_prefix('-') {
        let drop = split(rest);
        defaults
            .into_iter()
            .filter(|d| !drop.iter().any(|p| glob_match(p, d)))
            .collect()
    } else if let Some(rest) = value.strip_prefix('^') {
        let mut v = split(rest);
        v.extend(defaults);
        v
    } else {
        split(value)
    }
}

pub fn spec(s: &SshdFacts, mode: Crypto) -> Spec {
    let lines: Vec<String> = [Kind::Kex, Kind::Cipher, Kind::Mac]
        .iter()
        .map(|&k| format!("{} {}", k.keyword(), recommended(k, s.version).join(",")))
        .collect();
    let mode_name = if mode == Crypto::Hardened {
        "hardened"
    } else {
        "default"
    };
    Spec::new(
        "ssh.crypto",
        "SSH offers only strong ciphers, MACs and key exchange",
        Severity::Medium,
        Some(&format!("ssh.crypto = \"{mode_name}\"")),
        &format!(
            "put these lines in /etc/ssh/sshd_config.d/00-portcullis.conf, then `sshd -t && systemctl reload ssh`: {}",
            lines.join(" | ")
        ),
    )
}

pub fn check(spec: &Spec, s: &SshdFacts, mode: Crypto) -> Finding {
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    let mut ev = Vec::new();
    for kind in [Kind::Kex, Kind::Cipher, Kind::Mac] {
        let key = kind.keyword().to_ascii_lowercase();
        let e = match effective(s, &key) {
            Ok(e) => e,
            Err(err) => return spec.error(err),
        };
        let defaults = defaults(kind, s.version);
        let list = if e.defaulted || e.value().is_empty() {
            defaults.iter().map(|d| d.to_string()).collect()
        } else {
            resolve(&e.values.join(","), &defaults)
        };
        let origin = if e.defaulted {
            match s.version {
                Some((a, b)) => format!("not set: OpenSSH {a}.{b} default"),
                None => "not set: OpenSSH default (version unknown)".into(),
            }
        } else {
            e.origin.clone()
        };
        ev.push(format!("{} ({origin}): {}", kind.keyword(), list.join(",")));
        for alg in &list {
            if let Some(why) = broken(kind, alg) {
                fails.push(format!("{alg} ({why})"));
            } else if let Some((fatal, why)) =
                hardened_issue(kind, alg).filter(|_| mode == Crypto::Hardened)
            {
                if fatal {
                    fails.push(format!("{alg} ({why})"))
                } else {
                    warns.push(format!("{alg} ({why})"))
                }
            }
        }
    }
    if !fails.is_empty() {
        ev.insert(0, format!("weak: {}", fails.join(", ")));
        if !warns.is_empty() {
            ev.insert(1, format!("questionable: {}", warns.join(", ")));
        }
        spec.fail(ev)
    } else if !warns.is_empty() {
        ev.insert(0, format!("questionable: {}", warns.join(", ")));
        spec.warn(ev)
    } else {
        spec.pass(ev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Status;

    fn facts(text: Option<&str>, version: (u32, u32)) -> SshdFacts {
        SshdFacts {
            version: Some(version),
            sshd_t: text.map(crate::host::sshd::parse_sshd_t),
            sshd_t_cmd: "sshd -T".into(),
            ..Default::default()
        }
    }

    #[test]
    fn openssh_defaults_fail_the_hardened_list() {
        let s = facts(None, (9, 2));
        let f = check(&spec(&s, Crypto::Hardened), &s, Crypto::Hardened);
        assert_eq!(f.status, Status::Fail);
        assert!(f.evidence[0].contains("hmac-sha1"), "{:?}", f.evidence);
        assert!(f.evidence.iter().any(|e| e.contains("OpenSSH 9.2 default")));
        // In default mode the same lists hold nothing broken.
        assert_eq!(
            check(&spec(&s, Crypto::Default), &s, Crypto::Default).status,
            Status::Pass
        );
    }

    #[test]
    fn hardened_lists_pass_and_cbc_fails_everywhere() {
        let good = format!(
            "ciphers {}\nmacs {}\nkexalgorithms {}\n",
            recommended(Kind::Cipher, Some((9, 6))).join(","),
            recommended(Kind::Mac, Some((9, 6))).join(","),
            recommended(Kind::Kex, Some((9, 6))).join(",")
        );
        let s = facts(Some(&good), (9, 6));
        assert_eq!(
            check(&spec(&s, Crypto::Hardened), &s, Crypto::Hardened).status,
            Status::Pass
        );
        let bad = good.replace("ciphers ", "ciphers aes128-cbc,");
        let s = facts(Some(&bad), (9, 6));
        let f = check(&spec(&s, Crypto::Default), &s, Crypto::Default);
        assert_eq!(f.status, Status::Fail);
        assert!(f.evidence[0].contains("aes128-cbc (CBC mode)"));
    }

    #[test]
    fn version_gates_post_quantum_kex() {
        assert!(
            !recommended(Kind::Kex, Some((8, 4)))
                .iter()
                .any(|k| k.starts_with("sntrup"))
        );
        assert!(
            recommended(Kind::Kex, Some((9, 2)))
                .iter()
                .any(|k| k.starts_with("sntrup"))
        );
        assert!(!recommended(Kind::Kex, Some((9, 6))).contains(&"mlkem768x25519-sha256"));
        assert!(recommended(Kind::Kex, Some((10, 0))).contains(&"mlkem768x25519-sha256"));
    }

    #[test]
    fn list_modifiers() {
        let d = ["a", "b-sha1", "c"];
        assert_eq!(resolve("+x", &d), vec!["a", "b-sha1", "c", "x"]);
        assert_eq!(resolve("-*sha1", &d), vec!["a", "c"]);
        assert_eq!(resolve("^x", &d), vec!["x", "a", "b-sha1", "c"]);
        assert_eq!(resolve("x,y", &d), vec!["x", "y"]);
    }
}
