//! Ban drivers: the nftables one that does the work, a dry-run one that only logs, and a recording fake
//! for unit tests. The daemon talks to `dyn Driver` and hands it whole batches, so one batch of bans is
//! one firewall transaction.

pub mod dry_run;
pub mod fake;
pub mod nft;
pub mod scope;

use ipnet::IpNet;

pub use scope::Scope;

/// One jail's bans: a pair of sets (IPv4, IPv6) and what they block. `name` is the jail's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BanSet {
    pub name: String,
    pub scope: Scope,
}

/// A ban in force at setup: which set (an index into the sets given), the network, seconds left.
pub type SetBan = (usize, IpNet, u64);

/// One change to the ban sets; `set` is an index into the sets given at setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Ban `net` for `seconds` (kernel-side timeout). `replace` when it may be in the set already
    /// (a manual re-ban): its old timeout is dropped first. A fresh add skips that, which keeps a
    /// batch of 100,000 new bans to one statement.
    Add {
        set: usize,
        net: IpNet,
        seconds: u64,
        replace: bool,
    },
    /// Lift the ban on `net`; not an error if it is absent (expired already).
    Remove { set: usize, net: IpNet },
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
    /// Create (or re-create, after `flush ruleset`) our table with these sets and load `bans`
    /// into it, atomically. Later ops name sets by their index here.
    fn setup(&mut self, sets: &[BanSet], bans: &[SetBan]) -> Result<(), DriverError>;
    /// Apply a batch of changes in one transaction.
    fn apply(&mut self, ops: &[Op]) -> Result<(), DriverError>;
    /// Lift every ban.
    fn flush(&mut self) -> Result<(), DriverError>;
    fn name(&self) -> &'static str;
}
