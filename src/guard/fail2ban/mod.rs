//! Running a fail2ban configuration as it stands: its jails' actions planned (`actions`).
pub mod actions;
