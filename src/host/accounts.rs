//! /etc/passwd, /etc/group, /etc/shadow, sudoers and authorized_keys, parsed without touching the system.

use super::sshd::Origin;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
    pub line: usize,
}

impl User {
    /// Shells that refuse interactive logins.
    pub fn can_log_in(&self) -> bool {
        !(self.shell.is_empty()
            || self.shell.ends_with("/nologin")
            || self.shell.ends_with("/false")
            || self.shell.ends_with("/sync"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    pub name: String,
    pub hash: String,
    pub line: usize,
}

impl ShadowEntry {
    /// `!...` or `*` means no password login; `!` prefixed hashes are locked.
    pub fn is_locked(&self) -> bool {
        self.hash.starts_with('!') || self.hash.starts_with('*')
    }
    pub fn is_empty(&self) -> bool {
        self.hash.is_empty()
    }
}

/// Lines that do not have the expected shape are returned as problems rather than guessed at.
pub fn parse_passwd(text: &str) -> (Vec<User>, Vec<String>) {
    let mut users = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        match (
            f.len() >= 7,
            f.get(2).and_then(|u| u.parse().ok()),
            f.get(3).and_then(|g| g.parse().ok()),
        ) {
            (true, Some(uid), Some(gid)) => users.push(User {
                name: f[0].to_string(),
                uid,
                gid,
                home: f[5].to_string(),
                shell: f[6].to_string(),
                line: i + 1,
            }),
            _ => bad.push(format!("line {}: not a passwd entry", i + 1)),
        }
    }
    (users, bad)
}

pub fn parse_group(text: &str) -> Vec<Group> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            Some(Group {
                name: f[0].to_string(),
                gid: f[2].parse().ok()?,
                members: f[3]
                    .split(',')
                    .filter(|m| !m.is_empty())
                    .map(|m| m.trim().to_string())
                    .collect(),
            })
        })
        .collect()
}

pub fn parse_shadow(text: &str) -> Vec<ShadowEntry> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let mut f = line.split(':');
            let name = f.next()?.to_string();
            let hash = f.next()?.to_string();
            (!name.is_empty()).then_some(ShadowEntry {
                name,
                hash,
                line: i + 1,
            })
        })
        .collect()
}

/// Who each sudoers rule names: a user (`alice`) or a group (`%devops`); root and aliases are left out.
pub fn parse_sudoers(text: &str, file: &str) -> Vec<(String, Origin)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        // `#include` and `@include` are directives, `Defaults` settings, `*_Alias` definitions.
        if t.is_empty()
            || t.starts_with('#')
            || t.starts_with('@')
            || t.starts_with("Defaults")
            || t.contains("_Alias")
        {
            continue;
        }
        let Some(who) = t.split_whitespace().next() else {
            continue;
        };
        if who != "root" && t.contains('=') {
            out.push((
                who.to_string(),
                Origin {
                    file: file.to_string(),
                    line: i + 1,
                },
            ));
        }
    }
    out
}

/// One line of an authorized_keys file that is not a usable key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BadKeyLine {
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct KeyScan {
    pub valid: usize,
    pub bad: Vec<BadKeyLine>,
}

const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-dss",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-rsa-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
];

/// Counts keys whose blob decodes and names the same type as the line (what sshd would accept).
pub fn scan_authorized_keys(text: &str) -> KeyScan {
    let mut scan = KeyScan::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match check_key_line(line) {
            Ok(()) => scan.valid += 1,
            Err(reason) => scan.bad.push(BadKeyLine {
                line: i + 1,
                reason,
            }),
        }
    }
    scan
}

fn check_key_line(line: &str) -> Result<(), String> {
    let words = split_options_aware(line);
    // Options come first when the first word is not a key type.
    let at = words
        .iter()
        .position(|w| KEY_TYPES.contains(&w.as_str()))
        .ok_or("no known key type")?;
    let blob = words.get(at + 1).ok_or("key type without key data")?;
    let bytes = base64_decode(blob).ok_or("key data is not base64")?;
    if bytes.len() < 4 {
        return Err("key data too short".into());
    }
    let n = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let inner = bytes.get(4..4 + n).ok_or("key data truncated")?;
    if inner != words[at].as_bytes() {
        return Err(format!(
            "key data is a {} key, line says {}",
            String::from_utf8_lossy(inner),
            words[at]
        ));
    }
    Ok(())
}

/// Splits on whitespace outside double quotes (options like `command="a b"`).
fn split_options_aware(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid ed25519 public key (type string + 32 zero bytes), built here so no real key is needed.
    pub fn fake_ed25519_line() -> String {
        let mut blob = Vec::new();
        blob.extend_from_slice(&11u32.to_be_bytes());
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&32u32.to_be_bytes());
        blob.extend_from_slice(&[7u8; 32]);
        format!("ssh-ed25519 {} admin@laptop", encode(&blob))
    }

    fn encode(bytes: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in bytes.chunks(3) {
            let n = (c[0] as u32) << 16
                | (*c.get(1).unwrap_or(&0) as u32) << 8
                | *c.get(2).unwrap_or(&0) as u32;
            for i in 0..4 {
                if i <= c.len() {
                    s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

    #[test]
    fn passwd_and_shadow() {
        let (users, bad) = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbroken\nsync:x:4:65534::/bin:/bin/sync\n",
        );
        assert_eq!(users.len(), 2);
        assert_eq!(bad.len(), 1);
        assert!(users[0].can_log_in());
        assert!(!users[1].can_log_in());
        let shadow = parse_shadow("root:!:19000::::::\nbob::19000::::::\nann:$y$j9T$abc:1::::::\n");
        assert!(shadow[0].is_locked());
        assert!(shadow[1].is_empty());
        assert!(!shadow[2].is_locked() && !shadow[2].is_empty());
    }

    #[test]
    fn sudoers_names_users_and_groups() {
        let rules = parse_sudoers(
            "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n# alice ALL=(ALL) ALL\n\
             User_Alias OPS = bob\ndeploy ALL=(ALL) NOPASSWD: ALL\n@includedir /etc/sudoers.d\n",
            "/etc/sudoers",
        );
        let who: Vec<&str> = rules.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(who, vec!["%sudo", "deploy"]);
        assert_eq!(rules[1].1.line, 6);
    }

    #[test]
    fn groups_list_members() {
        let g = parse_group("sudo:x:27:alice,bob\nwheel:x:10:\n");
        assert_eq!(g[0].members, vec!["alice", "bob"]);
        assert!(g[1].members.is_empty());
    }

    #[test]
    fn authorized_keys_valid_and_invalid() {
        let good = fake_ed25519_line();
        let text = format!(
            "# comment\n{good}\nfrom=\"10.0.0.1\",no-pty {good}\nssh-rsa notbase64!!\nhello\n"
        );
        let scan = scan_authorized_keys(&text);
        assert_eq!(scan.valid, 2);
        assert_eq!(scan.bad.len(), 2);
        assert_eq!(scan.bad[0].line, 4);
        // A blob of one type presented as another is refused.
        let lying = good.replacen("ssh-ed25519", "ssh-rsa", 1);
        assert_eq!(scan_authorized_keys(&lying).valid, 0);
    }
}
