//! portcullis: harden a fresh server safely.
//!
//! The binary wires three jobs over one model of the host: `audit`, `plan`/`apply`, and `guard`.
//! Cores are I/O-free; all system access lives in `host/` (and the guard's sources and firewall driver).

pub mod apply;
pub mod audit;
pub mod cli;
pub mod firewall;
pub mod generate;
pub mod guard;
pub mod host;
pub mod location;
pub mod profile;
