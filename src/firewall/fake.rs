//! A driver that records calls, for unit tests of the daemon's pure parts.

use std::sync::{Arc, Mutex};

use super::{BanSet, Driver, DriverError, Op, SetBan};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Setup(Vec<BanSet>, Vec<SetBan>),
    Apply(Vec<Op>),
    Flush,
}

/// Clones share one log of calls, so a test keeps a handle while the daemon owns the driver.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub calls: Arc<Mutex<Vec<Call>>>,
}

impl Recording {
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl Driver for Recording {
    fn setup(&mut self, sets: &[BanSet], bans: &[SetBan]) -> Result<(), DriverError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Setup(sets.to_vec(), bans.to_vec()));
        Ok(())
    }

    fn apply(&mut self, ops: &[Op]) -> Result<(), DriverError> {
        self.calls.lock().unwrap().push(Call::Apply(ops.to_vec()));
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DriverError> {
        self.calls.lock().unwrap().push(Call::Flush);
        Ok(())
    }

    fn name(&self) -> &'static str {
        "recording"
    }
}
