//! Which endpoints are in rotation: a flag per endpoint, watched by the balancer's discovery.
//! The last endpoint in rotation is never taken out (Envoy's panic mode): with every endpoint
//! failing, requests still go somewhere and fail fast with the endpoint's own error, instead
//! of waiting. It leaves as soon as another endpoint is back.

use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

/// The in-rotation flags, indexed like the cluster's members.
#[derive(Debug)]
pub(crate) struct Rotation {
    flags: watch::Sender<Vec<bool>>,
    /// Ejected endpoints (some may still be in rotation, as the last ones). The lock also
    /// serializes changes, so "the last one stays" holds under concurrent ejections.
    ejected: Mutex<Vec<bool>>,
}

impl Rotation {
    /// Every one of `n` endpoints in rotation.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            flags: watch::Sender::new(vec![true; n]),
            ejected: Mutex::new(vec![false; n]),
        }
    }

    /// Takes endpoint `i` out; `false` when it stays in as the last one.
    pub(crate) fn leave(&self, i: usize) -> bool {
        let mut ejected = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        ejected[i] = true;
        self.apply(&ejected);
        !self.contains(i)
    }

    /// Puts endpoint `i` back (and takes out ejected ones kept in as the last).
    pub(crate) fn join(&self, i: usize) {
        let mut ejected = self.ejected.lock().unwrap_or_else(PoisonError::into_inner);
        ejected[i] = false;
        self.apply(&ejected);
    }

    /// In rotation: every endpoint not ejected; when none is left, the current set stays.
    fn apply(&self, ejected: &[bool]) {
        if ejected.iter().all(|&out| out) {
            return;
        }
        self.flags.send_if_modified(|flags| {
            let mut changed = false;
            for (flag, &out) in flags.iter_mut().zip(ejected) {
                changed |= std::mem::replace(flag, !out) == out;
            }
            changed
        });
    }

    /// Whether endpoint `i` is in rotation.
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.flags.borrow().get(i).copied().unwrap_or(false)
    }

    /// A receiver of every change, starting from the current flags.
    pub(crate) fn watch(&self) -> watch::Receiver<Vec<bool>> {
        self.flags.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::Rotation;

    #[test]
    fn the_last_endpoint_stays_until_another_is_back() {
        let r = Rotation::new(3);
        assert!(r.leave(0));
        assert!(r.leave(1));
        assert!(!r.leave(2), "the last one stays in");
        assert!(r.contains(2) && !r.contains(0) && !r.contains(1));
        // Another is back: the ejected last one leaves at once.
        r.join(1);
        assert!(r.contains(1) && !r.contains(2));
        r.join(0);
        r.join(2);
        assert!((0..3).all(|i| r.contains(i)));
    }
}
