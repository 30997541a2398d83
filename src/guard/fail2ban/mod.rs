//! Running a fail2ban configuration as it stands: its jails read (`jails`) and made ours
//! (`convert`), their actions planned (`actions`), action.d commands made safe for the shell
//! (`shell`) and run off the daemon's loop (`runner`).
pub mod action_reader;
pub mod actions;
pub mod convert;
pub mod jails;
pub mod load;
pub mod runner;
pub mod shell;
