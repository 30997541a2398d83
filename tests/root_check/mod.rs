//! Whether the tests run as root: namespace and container tests skip (and say so) otherwise.

/// The effective uid is 0, read from /proc (no libc in the tests).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let uid = status.lines().find(|l| l.starts_with("Uid:"))?;
            Some(uid.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}
