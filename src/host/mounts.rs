//! /proc/mounts and /etc/fstab.

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mount {
    pub source: String,
    pub target: String,
    pub fstype: String,
    pub options: Vec<String>,
    pub line: usize,
}

impl Mount {
    pub fn has(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }
}

/// Both files share the same first four columns; `\040` escapes spaces in paths.
pub fn parse_mounts(text: &str) -> Vec<Mount> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 4 {
                return None;
            }
            Some(Mount {
                source: unescape(f[0]),
                target: unescape(f[1]),
                fstype: f[2].to_string(),
                options: f[3].split(',').map(str::to_string).collect(),
                line: i + 1,
            })
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t")
}

/// The last mount on a target is the one in effect.
pub fn mount_at<'a>(mounts: &'a [Mount], target: &str) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.target == target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_finds_last_mount() {
        let m = parse_mounts(
            "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\nshm /dev/shm tmpfs rw,nosuid,nodev,noexec 0 0\nbad\n",
        );
        assert_eq!(m.len(), 2);
        let shm = mount_at(&m, "/dev/shm").unwrap();
        assert!(shm.has("noexec"));
        assert_eq!(shm.line, 2);
    }
}
