//! When a side program that failed is started again: the backoff, a pure
//! schedule. After the first failure 1 s, then 2 s, 4 s, 8 s, 16 s, and 30 s
//! from then on. The count goes back to zero once a run lasted
//! [`Several::RESET_AFTER`](super::Several::RESET_AFTER) (60 s): a program
//! that crashes once a day is restarted after 1 s each time, one that
//! crashes at once is given up after `--max-restarts`.

use std::time::Duration;

/// The delay before restart number `n` (1 for the first).
pub fn delay(n: u32) -> Duration {
    let secs = 1u64 << n.saturating_sub(1).min(5);
    Duration::from_secs(secs.min(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_starts_at_one_second_and_doubles_up_to_thirty() {
        let got: Vec<u64> = (1..=8).map(|n| delay(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(delay(u32::MAX), Duration::from_secs(30));
    }
}
