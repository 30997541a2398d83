//! Debian's fail2ban package, unpacked by `scripts/fail2ban-package.sh` (see
//! `portcullis::guard::fail2ban_files`).
#![allow(dead_code, unused_imports)]

pub use portcullis::guard::fail2ban_files::{config_dir, root, sample_logs};

/// `fail2ban-regex` of the package, run by Debian's python3 with the package's modules.
pub fn fail2ban_regex() -> std::process::Command {
    let root = root();
    let mut cmd = std::process::Command::new("/usr/bin/python3");
    cmd.arg(root.join("usr/bin/fail2ban-regex"))
        .env("PYTHONPATH", root.join("usr/lib/python3/dist-packages"));
    cmd
}
