//! The `dry-run` backend: says what it would ban, touches nothing.

use ipnet::IpNet;

use super::{Driver, DriverError, Op};
use crate::guard::log;

#[derive(Debug, Default)]
pub struct DryRun;

impl Driver for DryRun {
    fn setup(&mut self, bans: &[(IpNet, u64)]) -> Result<(), DriverError> {
        log::info(format_args!(
            "dry-run: would create table inet portcullis with {} bans",
            bans.len()
        ));
        Ok(())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        for op in ops {
            match op {
                Op::Add { net, seconds, .. } => {
                    log::info(format_args!("dry-run: would ban {net} for {seconds}s"))
                }
                Op::Remove { net } => log::info(format_args!("dry-run: would unban {net}")),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DriverError> {
        log::info(format_args!("dry-run: would lift every ban"));
        Ok(())
    }

    fn name(&self) -> &'static str {
        "dry-run"
    }
}
