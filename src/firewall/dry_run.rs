//! The `dry-run` backend: says what it would ban, touches nothing.

use super::{BanSet, Driver, DriverError, Op, SetBan};
use crate::guard::log;

#[derive(Debug, Default)]
pub struct DryRun;

impl Driver for DryRun {
    fn setup(&mut self, sets: &[BanSet], bans: &[SetBan]) -> Result<(), DriverError> {
        for (i, set) in sets.iter().enumerate() {
            log::info(format_args!(
                "dry-run: would create the ban sets of jail {} ({}) with {} bans",
                set.name,
                set.scope,
                bans.iter().filter(|b| b.0 == i).count()
            ));
        }
        Ok(())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        for op in ops {
            match op {
                Op::Add { net, seconds, .. } => {
                    log::info(format_args!("dry-run: would ban {net} for {seconds}s"))
                }
                Op::Remove { net, .. } => log::info(format_args!("dry-run: would unban {net}")),
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
