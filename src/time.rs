//! Time as the logic sees it: [`Millis`] passed in (never read here), and short ages and
//! countdowns in words for the screen, the log and `check`.

/// Wall-clock time in milliseconds since the Unix epoch. Passed in, never read inside logic.
pub type Millis = i64;

/// `42s`, `3m`, `2h`, `5d`.
pub fn short_age(ms: Millis) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// The time left until `until`, rounded up to the second below a minute ("restart in 1s"
/// until it is due), then as a [`short_age`].
pub fn ms_until(until: Millis, now: Millis) -> String {
    let left = until.saturating_sub(now).max(0);
    let secs = (left + 999) / 1000;
    if secs < 60 {
        format!("{secs}s")
    } else {
        short_age(left)
    }
}

/// A longer countdown, to the minute past an hour: `45s`, `12m`, `1h41m`, `2d3h`.
pub fn countdown(until: Millis, now: Millis) -> String {
    let secs = (until.saturating_sub(now).max(0) + 999) / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86_400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// The age of a tmux timestamp (seconds since the epoch) at `now`.
pub fn age_since_secs(epoch_secs: i64, now: Millis) -> String {
    short_age(now.saturating_sub(epoch_secs.saturating_mul(1000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ages() {
        assert_eq!(short_age(59_999), "59s");
        assert_eq!(short_age(60_000), "1m");
        assert_eq!(short_age(3_600_000), "1h");
        assert_eq!(short_age(86_400_000 * 2), "2d");
        assert_eq!(short_age(-5), "0s");
    }

    #[test]
    fn countdowns_round_up_and_never_go_negative() {
        assert_eq!(ms_until(10_001, 10_000), "1s");
        assert_eq!(ms_until(12_500, 10_000), "3s");
        assert_eq!(ms_until(10_000, 10_000), "0s");
        assert_eq!(ms_until(5_000, 10_000), "0s");
        assert_eq!(ms_until(10_000 + 59_000, 10_000), "59s");
        assert_eq!(ms_until(10_000 + 120_000, 10_000), "2m");
        assert_eq!(age_since_secs(100, 160_000), "1m");
        assert_eq!(age_since_secs(200, 160_000), "0s");
    }
}
