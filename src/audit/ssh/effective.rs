//! The effective value of an sshd keyword, and where it came from.

use crate::host::SshdFacts;
use crate::host::sshd::MULTI_VALUED;

/// One effective value and where it came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub values: Vec<String>,
    pub origin: String,
    /// Not set anywhere: the value is OpenSSH's built-in default.
    pub defaulted: bool,
}

impl Effective {
    pub fn value(&self) -> &str {
        self.values.first().map(String::as_str).unwrap_or("")
    }
    pub fn lower(&self) -> String {
        self.value().to_ascii_lowercase()
    }
    pub fn describe(&self, keyword: &str) -> String {
        format!("{keyword} {} ({})", self.values.join(" "), self.origin)
    }
}

/// OpenSSH's compiled-in defaults for the keywords we check (what `sshd -T` prints when nothing sets them).
pub fn openssh_default(key: &str) -> &'static str {
    match key {
        "permitrootlogin" => "prohibit-password",
        "passwordauthentication" | "pubkeyauthentication" | "kbdinteractiveauthentication" => "yes",
        "permitemptypasswords" | "x11forwarding" | "hostbasedauthentication" | "permittunnel" => {
            "no"
        }
        "gatewayports" | "permituserenvironment" | "usepam" => "no",
        "allowagentforwarding" | "allowtcpforwarding" | "ignorerhosts" | "strictmodes" => "yes",
        "maxauthtries" => "6",
        "logingracetime" => "120",
        "addressfamily" => "any",
        "port" => "22",
        _ => "",
    }
}

/// The effective value of a keyword: `sshd -T` when we have it, else the first value in the files, else the default.
pub fn effective(s: &SshdFacts, key: &str) -> Result<Effective, String> {
    let file_setting = s.files.as_ref().ok().and_then(|c| c.first(key));
    if let Some(t) = &s.sshd_t {
        let values = t
            .get(key)
            .cloned()
            .unwrap_or_else(|| vec![openssh_default(key).to_string()]);
        let origin = match file_setting {
            Some(fs) if fs.value.eq_ignore_ascii_case(&values[0]) => {
                format!("`{}`; set at {}", s.sshd_t_cmd, fs.origin)
            }
            // Not in the files at all: sshd is using its built-in default.
            None if s.files.is_ok() && !MULTI_VALUED.contains(&key) => {
                format!("`{}`; not set in the files: OpenSSH default", s.sshd_t_cmd)
            }
            _ => format!("`{}`", s.sshd_t_cmd),
        };
        return Ok(Effective {
            values,
            origin,
            defaulted: false,
        });
    }
    let cfg = s
        .files
        .as_ref()
        .map_err(|e| format!("cannot read the sshd configuration: {e}"))?;
    if MULTI_VALUED.contains(&key) {
        let all: Vec<_> = cfg.all(key).collect();
        if !all.is_empty() {
            let origin = all
                .iter()
                .map(|s| s.origin.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            return Ok(Effective {
                values: all.iter().map(|s| s.value.clone()).collect(),
                origin,
                defaulted: false,
            });
        }
    } else if let Some(st) = file_setting {
        return Ok(Effective {
            values: vec![st.value.clone()],
            origin: st.origin.to_string(),
            defaulted: false,
        });
    }
    Ok(Effective {
        values: vec![openssh_default(key).to_string()],
        origin: "not set: OpenSSH default".into(),
        defaulted: true,
    })
}

/// Match blocks that set this keyword, as evidence lines.
pub(super) fn match_overrides(s: &SshdFacts, key: &str, keyword: &str) -> Vec<String> {
    s.files
        .as_ref()
        .map(|c| {
            c.in_matches(key)
                .map(|(m, st)| {
                    format!(
                        "`Match {}` ({}) sets {keyword} {} at {}",
                        m.criteria, m.origin, st.value, st.origin
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// sshd time format: `90`, `2m`, `1m30s`, `1h`.
pub fn parse_sshd_time(v: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in v.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 604800,
            _ => return None,
        };
    }
    if !num.is_empty() {
        total += num.parse::<u64>().ok()?;
    }
    Some(total)
}
