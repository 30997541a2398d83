//! guard: the fail2ban-compatible ban daemon.
//!
//! `matcher/` turns log lines into failures (pure, no I/O); `window` counts failures per address;
//! `test_cmd` is the fail2ban-regex-style tester that drives both over a file.

pub mod cli;
pub mod duration;
pub mod lines;
pub mod matcher;
pub mod test_cmd;
pub mod window;
