//! Installed packages (dpkg status), os-release, and apt configuration.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::sshd::Origin;

/// Installed packages and their versions from /var/lib/dpkg/status.
pub fn parse_dpkg_status(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for stanza in text.split("\n\n") {
        let (mut name, mut version, mut installed) = (None, None, false);
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(n), Some(v), true) = (name, version, installed) {
            out.insert(n.to_string(), v.to_string());
        }
    }
    out
}

pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((
                k.trim().to_string(),
                v.trim().trim_matches(['"', '\'']).to_string(),
            ))
        })
        .collect()
}

/// apt.conf fragments: `A::B::C "value";` lines and nested `A { B "v"; };` blocks, flattened to `A::B`.
pub fn parse_apt_conf(text: &str, file: &str) -> Vec<(String, String, Origin)> {
    let mut out = Vec::new();
    let mut scope: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = strip_apt_comment(raw).trim().to_string();
        let mut rest = line.as_str();
        while !rest.is_empty() {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix('}') {
                scope.pop();
                rest = r.trim_start().strip_prefix(';').unwrap_or(r);
                continue;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '{' || c == '"' || c == ';')
                .unwrap_or(rest.len());
            let key = &rest[..end];
            let after = rest[end..].trim_start();
            if let Some(r) = rest.strip_prefix('"') {
                // A bare list item (`"origin=...";`): skip it whole, braces inside quotes included.
                let tail = r.split_once('"').map(|(_, t)| t).unwrap_or("");
                rest = tail.trim_start().strip_prefix(';').unwrap_or(tail);
                continue;
            }
            if key.is_empty() {
                // Stray punctuation: skip one character so garbage cannot loop forever.
                rest = rest.get(1..).unwrap_or("");
                continue;
            }
            if let Some(r) = after.strip_prefix('{') {
                scope.push(key.to_string());
                rest = r;
            } else if let Some(r) = after.strip_prefix('"') {
                let (value, tail) = r.split_once('"').unwrap_or((r, ""));
                let mut full = scope.clone();
                full.push(key.to_string());
                out.push((
                    full.join("::"),
                    value.to_string(),
                    Origin {
                        file: file.to_string(),
                        line: i + 1,
                    },
                ));
                rest = tail.trim_start().strip_prefix(';').unwrap_or(tail);
            } else {
                rest = after.strip_prefix(';').unwrap_or("");
            }
        }
    }
    out
}

fn strip_apt_comment(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with("//") || t.starts_with('#') {
        return "";
    }
    // A `//` outside quotes starts a comment.
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '/' if !quoted && line[i..].starts_with("//") => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Debian version comparison (epoch, upstream, revision), as dpkg does it.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let split = |v: &str| -> (u64, String, String) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) => (e.parse().unwrap_or(0), r),
            None => (0, v),
        };
        let (up, rev) = match rest.rfind('-') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, "0"),
        };
        (epoch, up.to_string(), rev.to_string())
    };
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| cmp_part(&ua, &ub))
        .then_with(|| cmp_part(&ra, &rb))
}

fn order(c: Option<char>) -> i32 {
    match c {
        None => 0,
        Some('~') => -1,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn cmp_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        // Non-digit prefix, compared with dpkg's ordering (~ sorts before everything, letters before symbols).
        loop {
            let ca = a
                .first()
                .filter(|c| !c.is_ascii_digit())
                .map(|&c| c as char);
            let cb = b
                .first()
                .filter(|c| !c.is_ascii_digit())
                .map(|&c| c as char);
            if ca.is_none() && cb.is_none() {
                break;
            }
            let (oa, ob) = (order(ca), order(cb));
            if oa != ob {
                return oa.cmp(&ob);
            }
            a = &a[ca.is_some() as usize..];
            b = &b[cb.is_some() as usize..];
        }
        let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let na = std::str::from_utf8(&a[..da])
            .unwrap_or("0")
            .trim_start_matches('0');
        let nb = std::str::from_utf8(&b[..db])
            .unwrap_or("0")
            .trim_start_matches('0');
        let c = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if c != Ordering::Equal {
            return c;
        }
        a = &a[da..];
        b = &b[db..];
    }
    Ordering::Equal
}

/// Packages with a newer version in an apt `Packages` list than installed: (name, installed, candidate).
pub fn upgradable(
    installed: &BTreeMap<String, String>,
    packages_list: &[u8],
    into: &mut BTreeMap<String, (String, String)>,
) {
    // Lists can be 100 MB on Ubuntu: jump between "Package: " fields with memchr instead of walking lines.
    let finder = memchr::memmem::Finder::new(b"Package: ");
    let mut at = 0;
    while let Some(pos) = finder.find(&packages_list[at..]) {
        let start = at + pos;
        at = start + 9;
        if start > 0 && packages_list[start - 1] != b'\n' {
            continue;
        }
        let name = field_value(&packages_list[at..]);
        let Some(cur) = std::str::from_utf8(name)
            .ok()
            .and_then(|n| installed.get(n))
        else {
            continue;
        };
        // The version is in the same stanza, which ends at a blank line.
        let stanza_end = memchr::memmem::find(&packages_list[at..], b"\n\n")
            .map_or(packages_list.len(), |e| at + e);
        let stanza = &packages_list[at..stanza_end];
        let Some(vpos) = memchr::memmem::find(stanza, b"\nVersion: ") else {
            continue;
        };
        let Ok(v) = std::str::from_utf8(field_value(&stanza[vpos + 10..])) else {
            continue;
        };
        if compare_versions(v, cur) == Ordering::Greater {
            let n = String::from_utf8_lossy(name).into_owned();
            let best = into
                .entry(n)
                .or_insert_with(|| (cur.clone(), v.to_string()));
            if compare_versions(v, &best.1) == Ordering::Greater {
                best.1 = v.to_string();
            }
        }
        at = stanza_end;
    }
}

/// The rest of the line, trimmed.
fn field_value(bytes: &[u8]) -> &[u8] {
    let end = memchr::memchr(b'\n', bytes).unwrap_or(bytes.len());
    bytes[..end].trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_only_installed() {
        let s = "Package: a\nStatus: install ok installed\nVersion: 1.0\n\nPackage: b\nStatus: deinstall ok config-files\nVersion: 2\n";
        let m = parse_dpkg_status(s);
        assert_eq!(m.len(), 1);
        assert_eq!(m["a"], "1.0");
    }

    #[test]
    fn apt_conf_flat_and_nested() {
        let t = "// comment\nAPT::Periodic::Unattended-Upgrade \"1\";\nUnattended-Upgrade {\n  Automatic-Reboot \"true\"; // x\n};\n";
        let v = parse_apt_conf(t, "/f");
        assert_eq!(v[0].0, "APT::Periodic::Unattended-Upgrade");
        assert_eq!(v[0].1, "1");
        assert_eq!(v[1].0, "Unattended-Upgrade::Automatic-Reboot");
        assert_eq!(v[1].2.line, 4);
        assert!(parse_apt_conf("}}}{{\"\";;;", "/g").len() <= 1);
    }

    #[test]
    fn debian_versions_compare() {
        use Ordering::*;
        assert_eq!(
            compare_versions("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u2"),
            Greater
        );
        assert_eq!(compare_versions("1.0~rc1", "1.0"), Less);
        assert_eq!(compare_versions("2:1.0", "10.0"), Greater);
        assert_eq!(compare_versions("1.10", "1.9"), Greater);
        assert_eq!(compare_versions("1.0-1", "1.0-1"), Equal);
        let installed: BTreeMap<String, String> =
            [("bash".to_string(), "5.2-1".to_string())].into();
        let mut up = BTreeMap::new();
        upgradable(
            &installed,
            b"Package: bash\nVersion: 5.2-2\n\nPackage: zsh\nVersion: 9\n",
            &mut up,
        );
        assert_eq!(up["bash"].1, "5.2-2");
    }
}

#[cfg(test)]
mod apt_list_tests {
    use super::*;

    #[test]
    fn bare_list_items_do_not_derail_later_keys() {
        let t = "Unattended-Upgrade::Origins-Pattern {\n        \"origin=Debian,codename=${distro_codename},label=Debian-Security\";\n};\n// Unattended-Upgrade::Automatic-Reboot \"false\";\nUnattended-Upgrade::Automatic-Reboot \"false\";\n";
        let v = parse_apt_conf(t, "/f");
        let hit = v
            .iter()
            .find(|(k, _, _)| k == "Unattended-Upgrade::Automatic-Reboot");
        assert!(hit.is_some(), "{v:?}");
        assert_eq!(hit.unwrap().2.line, 5);
    }
}
