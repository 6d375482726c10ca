//! Byte accounting against the spool's quota.
//!
//! `used` counts header + payload bytes of every stored item plus the bytes of
//! every staging file being written. Space is claimed up front as a
//! [`Reservation`]; a reservation that is dropped gives its bytes back, one that
//! is [`Reservation::keep`]-ed hands them to a stored item, which returns them with
//! [`Quota::release`] when it is acked.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::{SpoolError, Usage};

/// Shared quota counter (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Quota {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    used: AtomicU64,
    limit: u64,
}

impl Quota {
    pub(crate) fn new(limit: u64, used: u64) -> Quota {
        Quota { inner: Arc::new(Inner { used: AtomicU64::new(used), limit }) }
    }

    /// Claims `bytes` or fails with [`SpoolError::InsufficientStorage`].
    pub(crate) fn try_reserve(&self, bytes: u64) -> Result<Reservation, SpoolError> {
        self.claim(bytes)?;
        Ok(Reservation { quota: self.clone(), bytes })
    }

    /// Gives back bytes of items that were kept and are now gone.
    pub(crate) fn release(&self, bytes: u64) {
        // Never underflows: every release matches an earlier claim or rebuild.
        let _ =
            self.inner.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| Some(used.saturating_sub(bytes)));
    }

    pub(crate) fn usage(&self) -> Usage {
        Usage { used_bytes: self.inner.used.load(Ordering::Acquire), quota_bytes: self.inner.limit }
    }

    fn claim(&self, bytes: u64) -> Result<(), SpoolError> {
        let limit = self.inner.limit;
        self.inner
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= limit)
            })
            .map(|_| ())
            .map_err(|used| SpoolError::InsufficientStorage { needed: bytes, available: limit.saturating_sub(used) })
    }
}

/// Bytes claimed from a [`Quota`]; given back on drop unless kept.
#[derive(Debug)]
pub struct Reservation {
    quota: Quota,
    bytes: u64,
}

impl Reservation {
    /// Claims `more` bytes into this reservation.
    pub(crate) fn try_grow(&mut self, more: u64) -> Result<(), SpoolError> {
        self.quota.claim(more)?;
        self.bytes += more;
        Ok(())
    }

    /// Moves `bytes` (at most all) out into their own reservation.
    pub(crate) fn split(&mut self, bytes: u64) -> Reservation {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        Reservation { quota: self.quota.clone(), bytes }
    }

    /// The bytes now belong to stored items; they come back through
    /// [`Quota::release`] when those are acked.
    pub(crate) fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.quota.release(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserve_release_and_keep() {
        let quota = Quota::new(100, 10);
        let a = quota.try_reserve(60).expect("fits");
        assert_eq!(quota.usage().used_bytes, 70);
        match quota.try_reserve(31) {
            Err(SpoolError::InsufficientStorage { needed: 31, available: 30 }) => {}
            other => panic!("unexpected {other:?}"),
        }
        drop(a);
        assert_eq!(quota.usage().used_bytes, 10);
        let mut b = quota.try_reserve(50).expect("fits");
        b.try_grow(40).expect("fits");
        assert!(b.try_grow(1).is_err());
        let part = b.split(30);
        assert_eq!((part.bytes, b.bytes), (30, 60));
        drop(part);
        assert_eq!(quota.usage().used_bytes, 70);
        drop(b.split(1000));
        assert_eq!(quota.usage().used_bytes, 10);
        b.try_grow(60).expect("fits");
        b.keep();
        assert_eq!(quota.usage().used_bytes, 70);
        quota.release(70);
        assert_eq!(quota.usage(), Usage { used_bytes: 0, quota_bytes: 100 });
    }
}
