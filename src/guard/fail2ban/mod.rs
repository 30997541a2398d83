//! Running a fail2ban configuration as it stands: its jails' actions planned (`actions`),
//! action.d commands made safe for the shell (`shell`) and run off the daemon's loop (`runner`).
pub mod actions;
pub mod jails;
pub mod runner;
pub mod shell;
