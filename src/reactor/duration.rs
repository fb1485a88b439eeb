//! The one conversion from a duration a script gives (seconds or milliseconds as a Lua number)
//! to a [`Duration`]. Every timeout, delay, sleep and `--run-for` goes through it, so that no
//! number a script can write makes `Duration` or `Instant` arithmetic panic.
//!
//! The rule: NaN and negative values are "no duration" (`None`; callers treat that as their
//! documented default, usually "no timeout"), and anything longer than [`MAX_WAIT`] (the timer
//! wheel's horizon, 2^40 ms, about 34.8 years) is clamped to it: for a process that is
//! "forever", and `Instant::now() + MAX_WAIT` cannot overflow.

use std::time::Duration;

use super::wheel::MAX_DELAY_MS;

/// The longest wait plua arms: the timer wheel's horizon.
pub const MAX_WAIT: Duration = Duration::from_millis(MAX_DELAY_MS);

/// `seconds` as a duration: `None` for NaN or a negative number, at most [`MAX_WAIT`].
pub fn from_secs(seconds: f64) -> Option<Duration> {
    if seconds.is_nan() || seconds < 0.0 {
        return None;
    }
    if seconds >= MAX_WAIT.as_secs_f64() {
        return Some(MAX_WAIT);
    }
    Some(Duration::from_secs_f64(seconds))
}

/// `millis` as a duration: `None` for NaN or a negative number, at most [`MAX_WAIT`].
pub fn from_millis(millis: f64) -> Option<Duration> {
    from_secs(millis / 1000.0)
}

/// A positive timeout in seconds from an option table, or `default` when absent, zero,
/// negative or NaN.
pub fn positive_secs_or(seconds: Option<f64>, default: Duration) -> Duration {
    seconds
        .filter(|s| *s > 0.0)
        .and_then(from_secs)
        .unwrap_or(default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn huge_values_clamp_to_the_wheel_horizon_and_stay_addable() {
        for huge in [9.3e18, 1e300, f64::INFINITY, f64::MAX] {
            let limit = from_secs(huge).expect("clamped");
            assert_eq!(limit, MAX_WAIT);
            assert!(Instant::now().checked_add(limit).is_some());
        }
        assert_eq!(from_millis(1e300), Some(MAX_WAIT));
    }

    #[test]
    fn nan_and_negative_are_no_duration() {
        assert_eq!(from_secs(f64::NAN), None);
        assert_eq!(from_secs(-1.0), None);
        assert_eq!(from_secs(f64::NEG_INFINITY), None);
        assert_eq!(from_secs(0.0), Some(Duration::ZERO));
        assert_eq!(from_secs(1.5), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn option_timeouts_fall_back_to_the_default() {
        let default = Duration::from_secs(30);
        assert_eq!(positive_secs_or(None, default), default);
        assert_eq!(positive_secs_or(Some(0.0), default), default);
        assert_eq!(positive_secs_or(Some(-3.0), default), default);
        assert_eq!(positive_secs_or(Some(f64::NAN), default), default);
        assert_eq!(positive_secs_or(Some(1e300), default), MAX_WAIT);
        assert_eq!(positive_secs_or(Some(2.0), default), Duration::from_secs(2));
    }
}
