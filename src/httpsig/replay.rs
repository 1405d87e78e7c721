//! The replay cache: which (key, nonce) pairs were accepted recently.
//!
//! A signature is accepted only while `|now - created| <= MAX_SKEW_SECS`, so a nonce must
//! be remembered only that long; entries are kept until `now > created + 2 * MAX_SKEW_SECS`,
//! a margin for callers whose clocks read a little apart (one per thread).
//!
//! INVARIANTS:
//! - A (key, nonce) pair that [`ReplayCache::check`] accepted with `created` is refused by
//!   every later call, as long as no call in between passed a `now` later than
//!   `created + 2 * MAX_SKEW_SECS` (so callers' clocks may disagree by up to a window).
//! - The cache never evicts an unexpired entry to make room: when it is full it refuses
//!   new requests instead ([`AuthError::ReplayCacheFull`]).
//!
//! An entry is the first 128 bits of BLAKE3(key ‖ nonce), not the pair itself: a
//! hash-set slot (17 bytes, at most 7/8 full) and a place in its second's list (16
//! bytes, up to twice that while the list grows), so 50 to 65 bytes each and about 100
//! to 130 MiB for a full default cache (2 million). Two distinct pairs share a digest
//! with probability about n²/2¹²⁹, which would refuse one honest request as a replay,
//! never accept a replay.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::{AuthError, MAX_SKEW_SECS};

/// Bounded, thread-safe replay cache of (key, nonce) seen within the skew window.
pub struct ReplayCache {
    capacity: usize,
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Digests of the (key, nonce) pairs held.
    by_pair: HashSet<u128>,
    /// The same digests by the second after which they are dropped, oldest first.
    by_expiry: BTreeMap<i64, Vec<u128>>,
}

/// The digest an entry is kept as (module doc).
fn digest(key: &[u8; 32], nonce: &str) -> u128 {
    let mut h = blake3::Hasher::new();
    h.update(key);
    h.update(nonce.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&h.finalize().as_bytes()[..16]);
    u128::from_le_bytes(first)
}

impl ReplayCache {
    /// A cache that holds at most `capacity` unexpired entries.
    pub fn new(capacity: usize) -> Self {
        ReplayCache {
            capacity,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// Records (key, nonce). `Err(Replayed)` if the pair was seen and has not expired;
    /// entries expire once `now > created + 2*MAX_SKEW_SECS`. `Err(Stale)` if `created` is
    /// outside the window (as [`super::verify_request`] would say), since no entry could
    /// protect such a request. When full of unexpired entries it refuses
    /// (`Err(ReplayCacheFull)`) rather than evict an entry that could still be replayed.
    ///
    /// O(log n) per call, plus O(1) for each expired entry it drops.
    pub fn check(
        &self,
        key: &[u8; 32],
        nonce: &str,
        created: i64,
        now: i64,
    ) -> Result<(), AuthError> {
        if now.abs_diff(created) > MAX_SKEW_SECS.unsigned_abs() {
            return Err(AuthError::Stale { created, now });
        }
        let expiry = created.saturating_add(2 * MAX_SKEW_SECS);
        let mut seen = self.lock();
        seen.drop_expired(now);
        let d = digest(key, nonce);
        if seen.by_pair.contains(&d) {
            return Err(AuthError::Replayed);
        }
        if seen.by_pair.len() >= self.capacity {
            return Err(AuthError::ReplayCacheFull);
        }
        seen.by_expiry.entry(expiry).or_default().push(d);
        seen.by_pair.insert(d);
        Ok(())
    }

    /// Entries held, including expired ones not yet dropped (dropping happens in `check`).
    pub fn len(&self) -> usize {
        self.lock().by_pair.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The lock, even if another thread panicked while holding it: nothing done under the
    /// lock panics part way through an update.
    fn lock(&self) -> MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Seen {
    fn drop_expired(&mut self, now: i64) {
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            for d in entry.remove() {
                self.by_pair.remove(&d);
            }
        }
        // Give back what a burst left behind once the cache is mostly empty again.
        if self.by_pair.capacity() > 4096 && self.by_pair.len() * 4 < self.by_pair.capacity() {
            self.by_pair.shrink_to(self.by_pair.len() * 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_700_000_000;
    const NONCE: &str = "dGhpcy1pcy1hLW5vbmNl";

    // ---------------------------------------------------------------------------------------
    // ReplayCache.
    // ---------------------------------------------------------------------------------------

    #[test]
    fn replay_second_use_refused() {
        let cache = ReplayCache::new(10);
        let k = [1u8; 32];
        cache.check(&k, NONCE, NOW, NOW).unwrap();
        assert_eq!(
            cache.check(&k, NONCE, NOW, NOW + 30),
            Err(AuthError::Replayed)
        );
        // Even under another `created`.
        assert_eq!(
            cache.check(&k, NONCE, NOW + 10, NOW + 30),
            Err(AuthError::Replayed)
        );
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn replay_same_nonce_other_key_ok() {
        let cache = ReplayCache::new(10);
        cache.check(&[1; 32], NONCE, NOW, NOW).unwrap();
        cache.check(&[2; 32], NONCE, NOW, NOW).unwrap();
        cache
            .check(&[1; 32], "another-nonce-value", NOW, NOW)
            .unwrap();
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn replay_full_cache_refuses_and_expiry_frees_capacity() {
        let cache = ReplayCache::new(2);
        assert!(cache.is_empty());
        cache
            .check(&[1; 32], "nonce-number-0001", NOW, NOW)
            .unwrap();
        cache
            .check(&[1; 32], "nonce-number-0002", NOW + 10, NOW)
            .unwrap();
        assert_eq!(
            cache.check(&[1; 32], "nonce-number-0003", NOW, NOW),
            Err(AuthError::ReplayCacheFull)
        );
        // Still full at the last second of the first entry.
        let t = NOW + 2 * MAX_SKEW_SECS;
        assert_eq!(
            cache.check(&[1; 32], "nonce-number-0003", t - 60, t),
            Err(AuthError::ReplayCacheFull)
        );
        // One second later the first entry has expired; the second (created 10 s later) not.
        cache
            .check(&[1; 32], "nonce-number-0003", t - 59, t + 1)
            .unwrap();
        assert_eq!(cache.len(), 2);
        assert_eq!(
            cache.check(&[1; 32], "nonce-number-0002", t - 59, t + 1),
            Err(AuthError::Replayed)
        );
    }

    /// After a burst has expired, the cache gives its memory back.
    #[test]
    fn replay_cache_shrinks_after_a_burst() {
        let cache = ReplayCache::new(100_000);
        for i in 0..50_000 {
            cache
                .check(&[1; 32], &format!("burst-nonce-{i:08}"), NOW, NOW)
                .unwrap();
        }
        let big = cache.lock().by_pair.capacity();
        assert!(big >= 50_000);
        let later = NOW + 2 * MAX_SKEW_SECS + 1;
        cache
            .check(&[1; 32], "after-the-burst-1", later, later)
            .unwrap();
        assert_eq!(cache.len(), 1);
        assert!(
            cache.lock().by_pair.capacity() < big / 4,
            "kept {big} slots"
        );
        // What expired is forgotten; what did not is still refused.
        cache
            .check(&[1; 32], "burst-nonce-00000001", later, later)
            .unwrap();
        assert_eq!(
            cache.check(&[1; 32], "after-the-burst-1", later, later),
            Err(AuthError::Replayed)
        );
    }

    #[test]
    fn replay_cache_refuses_outside_the_window() {
        let cache = ReplayCache::new(10);
        for created in [NOW - 61, NOW + 61, i64::MIN, i64::MAX] {
            assert_eq!(
                cache.check(&[1; 32], NONCE, created, NOW),
                Err(AuthError::Stale { created, now: NOW })
            );
        }
        assert!(cache.is_empty());
    }

    proptest! {
        /// A replay within the window is always refused, whatever the two requests' clocks
        /// and whatever other requests came in between (from clocks within the margin).
        #[test]
        fn replay_within_window_always_refused(
            created in -1_000_000i64..1_000_000,
            first in -MAX_SKEW_SECS..=MAX_SKEW_SECS,
            again in -MAX_SKEW_SECS..=MAX_SKEW_SECS,
            again_created in -MAX_SKEW_SECS..=MAX_SKEW_SECS,
            others in proptest::collection::vec(
                (0u8..4, -MAX_SKEW_SECS..=MAX_SKEW_SECS, -MAX_SKEW_SECS..=2 * MAX_SKEW_SECS),
                0..40,
            ),
        ) {
            let cache = ReplayCache::new(64);
            let key = [7u8; 32];
            cache.check(&key, "the-nonce-under-test", created, created + first).unwrap();
            for (i, (k, c, n)) in others.iter().enumerate() {
                let _ = cache.check(&[*k; 32], &format!("other-nonce-{i:06}"), created + c, created + n);
            }
            let now = created + again;
            prop_assert_eq!(
                cache.check(&key, "the-nonce-under-test", now + again_created, now),
                Err(AuthError::Replayed)
            );
        }
    }
}
