//! A bounded count of callers waiting for something (a request slot, an engine worker).

use std::sync::atomic::{AtomicUsize, Ordering};

/// One waiting caller, counted for as long as it lives — also when its future is dropped
/// while it waits (the client went away), which must not leave the count raised.
pub(crate) struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    /// Counts a waiting caller in `count`, or returns how many wait already when that is
    /// `max` or more.
    pub(crate) fn enter(count: &'a AtomicUsize, max: usize) -> Result<Self, usize> {
        let queued = count.fetch_add(1, Ordering::AcqRel);
        let waiting = Self(count);
        if queued >= max {
            return Err(queued);
        }
        Ok(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
