//! Throttling of sign-in attempts, so that the sign-in form cannot be used to guess API keys:
//! a token bucket per client address and one per key prefix (the first characters typed),
//! in memory, per instance. The prefix bucket stops a guesser spread over many addresses
//! from trying one key's neighbourhood; the address bucket stops one client trying many.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;

/// Attempts allowed at once, then one every `REFILL_SECS`: a person who mistypes a key a few
/// times is never slowed down; a script gets about five tries a minute.
const BURST: u32 = 10;
const REFILL_SECS: u64 = 12;
/// Characters of the typed key that name its bucket: `tlk_` and the key's first characters,
/// which are the same for every guess at one key.
const PREFIX_CHARS: usize = 12;
/// Past this many buckets, the ones that are full again are dropped.
const FORGET_FULL_BUCKETS_PAST: usize = 10_000;

pub struct SignInLimit {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_prefix: DefaultKeyedRateLimiter<String>,
}

/// Which bucket is empty, and for how long.
#[derive(Debug, PartialEq, Eq)]
pub enum Throttled {
    Address { retry_after_secs: u64 },
    KeyPrefix { retry_after_secs: u64 },
}

impl Throttled {
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            Self::Address { retry_after_secs } | Self::KeyPrefix { retry_after_secs } => {
                *retry_after_secs
            }
        }
    }

    /// What the sign-in page says.
    pub fn message(&self) -> String {
        match self {
            Self::Address { retry_after_secs } => format!(
                "Too many sign-in attempts from your network address. Wait {retry_after_secs} seconds, then try again."
            ),
            Self::KeyPrefix { retry_after_secs } => format!(
                "Too many sign-in attempts with a key that starts like this one. Wait {retry_after_secs} seconds, then try again."
            ),
        }
    }
}

impl Default for SignInLimit {
    fn default() -> Self {
        let quota = Quota::with_period(std::time::Duration::from_secs(REFILL_SECS))
            .expect("non-zero period")
            .allow_burst(NonZeroU32::new(BURST).expect("non-zero"));
        Self {
            by_address: RateLimiter::keyed(quota),
            by_prefix: RateLimiter::keyed(quota),
        }
    }
}

fn seconds_until(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> u64 {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

impl SignInLimit {
    /// Takes one attempt from the address's bucket and from the key prefix's, or says which
    /// is empty. Checked before the key is looked up, so a throttled guess learns nothing.
    pub fn attempt(&self, address: Option<IpAddr>, typed_key: &str) -> Result<(), Throttled> {
        if self.by_address.len() + self.by_prefix.len() > FORGET_FULL_BUCKETS_PAST {
            self.by_address.retain_recent();
            self.by_prefix.retain_recent();
        }
        if let Some(a) = address {
            if let Err(n) = self.by_address.check_key(&a) {
                return Err(Throttled::Address {
                    retry_after_secs: seconds_until(n),
                });
            }
        }
        let prefix: String = typed_key.chars().take(PREFIX_CHARS).collect();
        if let Err(n) = self.by_prefix.check_key(&prefix) {
            return Err(Throttled::KeyPrefix {
                retry_after_secs: seconds_until(n),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_past_its_burst_is_throttled_and_another_is_not() {
        let limit = SignInLimit::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for i in 0..BURST {
            assert_eq!(
                limit.attempt(Some(a), &format!("tlk_guess{i:04}xxxx")),
                Ok(())
            );
        }
        let refused = limit
            .attempt(Some(a), "tlk_other_key_entirely")
            .unwrap_err();
        assert!(matches!(refused, Throttled::Address { .. }), "{refused:?}");
        assert!((1..=REFILL_SECS).contains(&refused.retry_after_secs()));
        assert_eq!(limit.attempt(Some(b), "tlk_other_key_entirely"), Ok(()));
    }

    #[test]
    fn one_key_prefix_from_many_addresses_is_throttled() {
        let limit = SignInLimit::default();
        for i in 0..BURST {
            let a = IpAddr::from([198, 51, 100, i as u8]);
            assert_eq!(limit.attempt(Some(a), &format!("tlk_abcdefgh{i}")), Ok(()));
        }
        let refused = limit
            .attempt(Some("203.0.113.9".parse().unwrap()), "tlk_abcdefghZZZ")
            .unwrap_err();
        assert!(
            matches!(refused, Throttled::KeyPrefix { .. }),
            "{refused:?}"
        );
        assert!(refused.message().contains("Wait"));
    }
}
