//! The TOML profile: what the operator expects of this host. The built-in default is what the guides recommend.
//!
//! Unknown keys are rejected, and every error names `file:line:col`. The `[guard]` table is accepted as raw TOML
//! and left to the guard's own config loader.

mod types;

pub use types::*;

use std::path::Path;

/// `file:line:col: message`, or `file: message` when the file could not be read at all (line 0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ProfileError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl ProfileError {
    fn render(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.file, self.message)
        } else {
            format!("{}:{}:{}: {}", self.file, self.line, self.col, self.message)
        }
    }
}

impl Profile {
    /// Reads and validates a profile file. Nothing is changed on error.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError {
            file: path.display().to_string(),
            line: 0,
            col: 0,
            message: format!("cannot read profile: {e}"),
        })?;
        Profile::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, file: &str) -> Result<Profile, ProfileError> {
        let mut profile = toml::from_str::<Profile>(text).map_err(|e| {
            let (line, col) = e.span().map(|s| line_col(text, s.start)).unwrap_or((1, 1));
            ProfileError {
                file: file.to_string(),
                line,
                col,
                message: e.message().trim().to_string(),
            }
        })?;
        if profile.guard.is_some() {
            // The daemon that apply enables reads `[guard]` with its own loader: a table it would
            // refuse must stop `plan` and `apply` here, not the daemon after the change is made.
            use crate::guard::config::{ConfigError, parse_str};
            let guard = parse_str(text, Path::new(file)).map_err(|e| match e {
                ConfigError::At {
                    file,
                    line,
                    col,
                    message,
                } => ProfileError {
                    file,
                    line,
                    col,
                    message,
                },
                ConfigError::File { file, message } => ProfileError {
                    file,
                    line: 0,
                    col: 0,
                    message,
                },
            })?;
            profile.guard_outbound = guard.alerts.outbound();
        }
        Ok(profile)
    }
}

pub use crate::location::line_col;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_profile_is_the_guides_default() {
        let p = Profile::parse("", "p.toml").unwrap();
        assert_eq!(p, Profile::default());
        assert!(!p.ssh.password_authentication);
        assert_eq!(p.ssh.permit_root_login, RootLogin::No);
        assert_eq!(p.mounts.dev_shm_options, vec!["nodev", "nosuid", "noexec"]);
    }

    #[test]
    fn keys_are_read() {
        let p = Profile::parse(
            "[ssh]\nport = 2222\nallow_users = [\"admin\"]\n[admin]\nuser = \"admin\"\n[sysctl]\nip_forward = \"on\"\n[sysctl.set]\n\"net.ipv4.tcp_timestamps\" = 0\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(p.ssh.port, Some(2222));
        assert_eq!(p.admin.user.as_deref(), Some("admin"));
        assert_eq!(p.sysctl.ip_forward, Toggle::On);
        assert_eq!(p.sysctl.set["net.ipv4.tcp_timestamps"].to_string(), "0");
    }

    #[test]
    fn unknown_key_points_at_its_line_and_column() {
        let err = Profile::parse(
            "[ssh]\nport = 2222\n  passwd_auth = false\n",
            "/etc/portcullis/portcullis.toml",
        )
        .unwrap_err();
        assert_eq!((err.line, err.col), (3, 3));
        assert!(
            err.to_string()
                .starts_with("/etc/portcullis/portcullis.toml:3:3: "),
            "{err}"
        );
        assert!(err.message.contains("passwd_auth"), "{err}");
    }

    #[test]
    fn bad_values_are_refused_with_position() {
        let err = Profile::parse("[ssh]\nport = 0\n", "p").unwrap_err();
        assert_eq!(err.line, 2);
        let err =
            Profile::parse("[mounts]\ndev_shm_options = [\"nodev\", \"ro\"]\n", "p").unwrap_err();
        assert!(err.message.contains("ro"), "{err}");
        let err = Profile::parse("[ssh]\npermit_root_login = \"sometimes\"\n", "p").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(Profile::parse("[ssh\n", "p").is_err());
    }

    #[test]
    fn a_wrong_sudo_value_names_the_two_that_work() {
        for bad in ["sudo = true", "sudo = \"yes\"", "sudo = 1"] {
            let err = Profile::parse(&format!("[admin]\n{bad}\n"), "p").unwrap_err();
            assert_eq!(err.line, 2, "{err}");
            assert!(
                err.message.contains("\"password\"") && err.message.contains("\"nopassword\""),
                "{bad}: {err}"
            );
        }
        let p = Profile::parse("[admin]\nsudo = \"nopassword\"\n", "p").unwrap();
        assert_eq!(p.admin.sudo, SudoMode::Nopassword);
    }

    #[test]
    fn unreadable_file_has_no_position() {
        let err = Profile::load(Path::new("/nonexistent/portcullis.toml")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/nonexistent/portcullis.toml: cannot read profile"),
            "{err}"
        );
    }

    #[test]
    fn values_apply_writes_into_files_or_argv_are_validated_with_position() {
        let cases = [
            ("[admin]\nuser = \"-rf\"\n", 2),
            ("[admin]\nuser = \"root\"\n", 2),
            ("[admin]\nauthorized_keys = [\"ssh-ed25519 nope\"]\n", 2),
            ("[admin]\nauthorized_keys_file = \"keys\"\n", 2),
            ("[ssh]\nallow_users = [\"admin bob\"]\n", 2),
            (
                "[firewall]\nallow = [{ port = 80, from = \"1.2.3.4 accept\" }]\n",
                2,
            ),
            ("[updates]\nautomatic_reboot_time = \"25:00\"\n", 2),
            // A map is validated whole: the position is its table header.
            ("[sysctl.set]\n\"../../etc/x\" = 1\n", 1),
        ];
        for (text, line) in cases {
            let err = Profile::parse(text, "p.toml").unwrap_err();
            assert_eq!(err.line, line, "{text}: {err}");
        }
        let ok = "[admin]\nuser = \"admin\"\n[firewall]\nallow = [{ port = 80, from = \"198.51.100.0/24\" }, { port = 53, proto = \"udp\", from = \"2001:db8::1\" }]\n[sysctl.set]\n\"net.ipv4.conf.eth0.rp_filter\" = 1\n";
        Profile::parse(ok, "p.toml").unwrap();
    }

    #[test]
    fn guard_table_is_kept_raw() {
        let p = Profile::parse(
            "[guard]\nbackend = \"dry-run\"\n[guard.jails.sshd]\nbantime = \"10m\"\n",
            "p",
        )
        .unwrap();
        let g = p.guard.unwrap();
        assert_eq!(g["backend"].as_str(), Some("dry-run"));
        assert!(g["jails"].is_table());
    }

    #[test]
    fn a_guard_table_the_daemon_would_refuse_is_refused_with_position() {
        // `bantime` belongs to a jail: at the top of `[guard]` the daemon would not start.
        let err =
            Profile::parse("[ssh]\nport = 22\n[guard]\nbantime = \"10m\"\n", "p").unwrap_err();
        assert_eq!((err.line, err.col), (4, 1), "{err}");
        assert!(err.message.contains("bantime"), "{err}");
        let err =
            Profile::parse("[guard.jails.sshd]\nbantime = \"1 fortnight\"\n", "p").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
    }

    #[test]
    fn the_packaged_example_profile_is_valid() {
        let text = include_str!("../../packaging/portcullis.toml.example");
        let p = Profile::parse(text, "portcullis.toml.example").unwrap();
        assert!(p.guard.is_some());
    }
}
