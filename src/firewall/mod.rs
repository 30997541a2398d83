//! Ban drivers: the nftables one that does the work, a dry-run one that only logs, and a recording fake
//! for unit tests. The daemon talks to `dyn Driver` and hands it whole batches, so one batch of bans is
//! one firewall transaction.

pub mod dry_run;
pub mod fake;
pub mod nft;

use ipnet::IpNet;

/// One change to the ban sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Ban `net` for `seconds` (kernel-side timeout). `replace` when it may be in the set already
    /// (a manual re-ban): its old timeout is dropped first. A fresh add skips that, which keeps a
    /// batch of 100,000 new bans to one statement.
    Add {
        net: IpNet,
        seconds: u64,
        replace: bool,
    },
    /// Lift the ban on `net`; not an error if it is absent (expired already).
    Remove { net: IpNet },
}

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("could not run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {stderr}")]
    Failed {
        program: String,
        status: String,
        stderr: String,
    },
}

pub trait Driver: Send {
    /// Create (or re-create, after `flush ruleset`) our table and load `bans` into it, atomically.
    fn setup(&mut self, bans: &[(IpNet, u64)]) -> Result<(), DriverError>;
    /// Apply a batch of changes in one transaction.
    fn apply(&mut self, ops: &[Op]) -> Result<(), DriverError>;
    /// Lift every ban.
    fn flush(&mut self) -> Result<(), DriverError>;
    fn name(&self) -> &'static str;
}
