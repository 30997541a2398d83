//! Where Debian's fail2ban package is unpacked for the tests (`scripts/fail2ban-package.sh`): its
//! filters, jail.conf and sample logs are read from there at run time, never copied into this
//! repository (they are GPL-2.0+).

use std::path::PathBuf;

/// The unpacked package's root (`$PORTCULLIS_FAIL2BAN_ROOT`, default
/// `/var/cache/portcullis-tests/fail2ban`). Panics with the fix when it is missing: a test that
/// needs fail2ban's files cannot pass without them.
pub fn root() -> PathBuf {
    let root = std::env::var_os("PORTCULLIS_FAIL2BAN_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/portcullis-tests/fail2ban"));
    assert!(
        root.join("etc/fail2ban/jail.conf").exists(),
        "fail2ban's files are not at {}: run scripts/fail2ban-package.sh (scripts/test.sh does)",
        root.display()
    );
    root
}

/// `/etc/fail2ban` of the package: filter.d, action.d, jail.conf, paths-*.conf, fail2ban.conf.
pub fn config_dir() -> PathBuf {
    root().join("etc/fail2ban")
}

/// The upstream sample logs with their `# failJSON:` expectations.
pub fn sample_logs() -> PathBuf {
    root().join("usr/lib/python3/dist-packages/fail2ban/tests/files/logs")
}
