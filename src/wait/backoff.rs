//! How long to sleep between two tries at one target: a pure value, and the
//! tiny seeded generator its jitter comes from.
//!
//! The schedule doubles from a short first interval to a cap. There are two
//! caps, because a try does not cost a dependency the same whatever it
//! answered:
//!
//! - [`Pace::Cheap`]: nothing was listening (connection refused). The peer's
//!   kernel answered with a RST; no process over there saw the try. Polled
//!   fast, because detection is bounded by it: with tries every `T` ms and a
//!   dependency that starts listening at a random moment, the median delay
//!   to notice it is `T / 2` and the worst is `T`. A median of 50 ms needs
//!   `T` ≤ 100 ms, and at exactly 100 ms the median of a dozen measured runs
//!   lands above 50 ms about four times in ten; so the cap is 80 ms (72 ms on
//!   average with jitter: a median near 36 ms, about 14 tries a second).
//! - [`Pace::Costly`]: everything else. A server that accepted and said "not
//!   yet" (PostgreSQL forks a backend for every connection), a peer that hung
//!   or closed, a name that does not resolve (each lookup is a handful of DNS
//!   queries once search domains apply, against a resolver shared by every
//!   replica). Polled at four tries a second at most.

use std::time::Duration;

/// What the last try cost the other side; picks the cap for the next delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Nothing listening: the kernel refused.
    Cheap,
    /// Anything that reached a process (or a resolver).
    Costly,
}

/// Exponential backoff with jitter.
///
/// With [`Backoff::DEFAULT`], the delay before try `n + 1`, before jitter:
///
/// | after try      | 1  | 2  | 3  | 4  | 5   | 6   | 7 and later |
/// |----------------|----|----|----|----|-----|-----|-------------|
/// | cheap (ms)     | 10 | 20 | 40 | 80 | 80  | 80  | 80          |
/// | costly (ms)    | 10 | 20 | 40 | 80 | 160 | 250 | 250         |
///
/// Jitter then shortens each delay by a random 0–20 %, so replicas started
/// together drift apart, and the cap stays a true maximum: a dependency is
/// never left untried for longer than 80 ms (refused) or 250 ms (anything
/// else). Steady state: about 14 tries a second on a closed port, 4.4 on
/// anything else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub first: Duration,
    pub cheap_cap: Duration,
    pub costly_cap: Duration,
    /// The largest share of a delay that jitter may take off, in 0.0..=1.0.
    pub jitter: f64,
}

impl Backoff {
    pub const DEFAULT: Backoff = Backoff {
        first: Duration::from_millis(10),
        cheap_cap: Duration::from_millis(80),
        costly_cap: Duration::from_millis(250),
        jitter: 0.2,
    };

    /// The same pause after every try, without jitter: docker-compose-wait's
    /// `WAIT_SLEEP_INTERVAL`, for images that switch binaries but keep their
    /// compose files.
    pub fn fixed(every: Duration) -> Backoff {
        Backoff {
            first: every,
            cheap_cap: every,
            costly_cap: every,
            jitter: 0.0,
        }
    }

    /// The delay after `tries` tries (1 for the first), the last of which
    /// answered at `pace`; `unit` in `0.0..1.0` is the jitter draw.
    pub fn delay(&self, tries: u32, pace: Pace, unit: f64) -> Duration {
        let cap = match pace {
            Pace::Cheap => self.cheap_cap,
            Pace::Costly => self.costly_cap,
        };
        // 2^20 × any sane `first` is past any cap: stop doubling there.
        let doublings = tries.saturating_sub(1).min(20);
        let nominal = self.first.saturating_mul(1 << doublings).min(cap);
        nominal.mul_f64(1.0 - self.jitter * unit.clamp(0.0, 1.0))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::DEFAULT
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a few lines, good enough to spread
/// retries, and seeded by the caller so tests are deterministic. Not for
/// anything secret.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter(seed)
    }

    /// A seed that differs between processes and between runs: the clock and
    /// the pid, so replicas started in the same second still differ.
    pub fn seed_from_process() -> u64 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 32)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0.0..1.0`.
    pub fn unit(&mut self) -> f64 {
        // The top 53 bits fill an f64's mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64's first outputs for seed 0, computed independently in
    /// Python: the jitter is that generator, not something like it.
    #[test]
    fn jitter_is_splitmix64() {
        let mut j = Jitter::new(0);
        assert_eq!(j.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(j.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(j.next_u64(), 0x06c4_5d18_8009_454f);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn schedule(pace: Pace, unit: f64) -> Vec<Duration> {
        (1..=8)
            .map(|n| Backoff::DEFAULT.delay(n, pace, unit))
            .collect()
    }

    #[test]
    fn without_jitter_the_delays_double_from_10ms_to_the_cap() {
        assert_eq!(
            schedule(Pace::Cheap, 0.0),
            [10, 20, 40, 80, 80, 80, 80, 80].map(ms)
        );
        assert_eq!(
            schedule(Pace::Costly, 0.0),
            [10, 20, 40, 80, 160, 250, 250, 250].map(ms)
        );
    }

    #[test]
    fn jitter_takes_off_at_most_a_fifth_and_never_adds() {
        assert_eq!(
            schedule(Pace::Cheap, 0.5),
            [9, 18, 36, 72, 72, 72, 72, 72].map(ms)
        );
        // unit is below 1.0; even at the limit the delay keeps 80 %.
        assert_eq!(Backoff::DEFAULT.delay(9, Pace::Costly, 1.0), ms(200));
        assert_eq!(Backoff::DEFAULT.delay(9, Pace::Costly, -3.0), ms(250));
    }

    #[test]
    fn the_pace_of_the_last_answer_picks_the_cap() {
        let b = Backoff::DEFAULT;
        assert_eq!(b.delay(6, Pace::Costly, 0.0), ms(250));
        assert_eq!(b.delay(7, Pace::Cheap, 0.0), ms(80));
        assert_eq!(b.delay(3, Pace::Costly, 0.0), ms(40));
    }

    #[test]
    fn a_fixed_interval_is_the_same_pause_whatever_happened() {
        let b = Backoff::fixed(Duration::from_secs(2));
        for tries in [1, 2, 7, 100] {
            for pace in [Pace::Cheap, Pace::Costly] {
                assert_eq!(b.delay(tries, pace, 0.9), Duration::from_secs(2));
            }
        }
    }

    #[test]
    fn many_tries_do_not_overflow() {
        assert_eq!(Backoff::DEFAULT.delay(u32::MAX, Pace::Costly, 0.0), ms(250));
        let huge = Backoff {
            first: Duration::MAX,
            ..Backoff::DEFAULT
        };
        assert_eq!(huge.delay(40, Pace::Cheap, 0.0), ms(80));
    }

    #[test]
    fn jitter_is_deterministic_per_seed_and_spread_over_0_to_1() {
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        let xs: Vec<f64> = (0..1000).map(|_| a.unit()).collect();
        let ys: Vec<f64> = (0..1000).map(|_| b.unit()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((0.45..0.55).contains(&mean), "mean {mean}");
        assert_ne!(Jitter::new(8).unit(), xs[0]);
    }
}
