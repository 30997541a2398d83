//! guard: the fail2ban-compatible ban daemon.
//!
//! `matcher/` turns log lines into failures (pure, no I/O); `window` counts failures per address for
//! `guard test`; `jail` decides bans; `config` and `duration` read the `[guard]` section. System access
//! lives only in `source/`, `state`, `control` and `crate::firewall`; `daemon` wires them together.

pub mod cli;
pub mod config;
pub mod duration;
pub mod jail;
pub mod log;
pub mod matcher;
pub mod source;
pub mod state;
pub mod test_cmd;
pub mod window;
