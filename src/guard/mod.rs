//! guard: the fail2ban-compatible ban daemon.
//!
//! Pure parts: `matcher/` turns log lines into failures; `window` counts failures per address with
//! fail2ban's arithmetic (shared by `guard test` and the jails); `jail` decides bans and ban times;
//! `config` and `duration` read the `[guard]` section. System access: `source/` (files, journal,
//! stdin), `state` (SQLite), `control` (the socket), `sys` (own addresses, systemd, signals), `alerts`,
//! `metrics` and `crate::firewall`. `daemon` wires them.

pub mod address_table;
pub mod alerts;
pub mod cli;
pub mod conf;
pub mod config;
pub mod control;
pub mod daemon;
pub mod duration;
pub mod fail2ban;
pub mod fail2ban_files;
pub mod fail2ban_log;
pub mod filter;
pub mod jail;
pub mod jailconf;
pub mod line_matcher;
pub mod lines;
pub mod log;
pub mod match_lines;
pub mod matcher;
pub mod metrics;
pub mod pyregex;
pub mod source;
pub mod state;
pub mod status_text;
pub mod sys;
pub mod test_cmd;
pub mod test_generic;
pub mod test_samples;
pub mod window;
