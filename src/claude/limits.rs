//! Usage and rate limits as Claude Code shows them: which line of the pane says the agent hit
//! one in its last turn, and when it resets ("resets 5:35pm (UTC)", "resets Dec 3 at 10am
//! (Europe/Paris)"), read in the zone the text gives, else the machine's own. Pure.

use jiff::civil::{self, Date};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan as _};

use crate::time::Millis;

/// A limit the pane shows in the agent's last turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSeen {
    /// When it resets, if the text says.
    pub until: Option<Millis>,
    /// The line that says it, trimmed.
    pub line: String,
}

/// Words of Claude Code's limit messages: the subscriber's ("You've hit your session limit ·
/// resets 5:35pm (UTC)", "Claude usage limit reached"), the API's ("API Error: Request
/// rejected (429)"), and its rate-limit menu ("Stop and wait for limit to reset").
const LIMIT_WORDS: &[&str] = &[
    "You've hit your",
    "usage limit reached",
    "limit reached ∙ resets",
    "Request rejected (429)",
    "Stop and wait for limit to reset",
];

/// Some line of `text` reads like a limit (cheap: before anything is parsed).
pub fn mentions_a_limit(text: &str) -> bool {
    LIMIT_WORDS.iter().any(|w| text.contains(w))
}

fn is_limit_line(line: &str) -> bool {
    LIMIT_WORDS.iter().any(|w| line.contains(w))
}

/// The limit the pane text shows in its last turn: a limit line with no answer (`●`) and no
/// prompt typed (`❯ text`, slash commands aside) after it. The reset time is taken from the
/// limit lines of that turn.
pub fn limit_in(text: &str, now: Millis, local: &TimeZone) -> Option<LimitSeen> {
    let mut found: Option<LimitSeen> = None;
    for line in text.lines() {
        let t = line.trim();
        if is_limit_line(t) {
            let until = parse_reset(t, now, local);
            match &mut found {
                Some(f) if f.until.is_none() => f.until = until,
                Some(_) => {}
                None => {
                    found = Some(LimitSeen {
                        until,
                        line: t.to_string(),
                    });
                }
            }
        } else if t.starts_with("● ")
            || t.strip_prefix("❯ ")
                .is_some_and(|typed| !typed.trim().is_empty() && !typed.starts_with('/'))
        {
            found = None;
        }
    }
    found
}

/// The reset time in a limit line: after `resets` or `reset at`, an optional date (`Dec 3`,
/// `Dec 3,`, then `at`), a time (`5pm`, `5:35pm`, `17:35`), an optional zone in brackets. A
/// time without a date is its next occurrence (a minute of grace: "resets 5pm" at 5:00:30pm
/// is now, not tomorrow).
pub fn parse_reset(line: &str, now: Millis, local: &TimeZone) -> Option<Millis> {
    let rest = ["resets at ", "resets ", "reset at ", "resets: "]
        .iter()
        .find_map(|k| line.find(k).map(|i| &line[i + k.len()..]))?;
    let (date, rest) = month_day(rest);
    let (hour, minute, rest) = clock(rest)?;
    let zone = rest
        .trim_start()
        .strip_prefix('(')
        .and_then(|z| z.split_once(')'))
        .map(|(z, _)| z.trim());
    let tz = match zone {
        Some("UTC" | "GMT") => TimeZone::UTC,
        Some(name) => TimeZone::get(name).unwrap_or_else(|_| local.clone()),
        None => local.clone(),
    };
    let now_ts = Timestamp::from_millisecond(now).ok()?;
    let today = now_ts.to_zoned_datetime(tz.clone()).date();
    let time = civil::time(hour, minute, 0, 0);
    let at = |d: Date| d.to_datetime(time).to_zoned_datetime(tz.clone()).ok();
    let grace = now_ts.checked_sub(1.minute()).ok()?;
    let when = if let Some((month, day)) = date {
        let z = at(Date::new(today.year(), month, day).ok()?)?;
        // "Jan 2" seen on Dec 30 is next year's.
        if z.timestamp() < grace && today.month() > month {
            at(Date::new(today.year() + 1, month, day).ok()?)?
        } else {
            z
        }
    } else {
        let z = at(today)?;
        if z.timestamp() < grace {
            at(today.tomorrow().ok()?)?
        } else {
            z
        }
    };
    Some(when.timestamp().as_millisecond())
}

/// `Dec 3`, `Dec 3,`, `Dec 3 at` in front of the time.
fn month_day(text: &str) -> (Option<(i8, i8)>, &str) {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mut words = text.splitn(3, ' ');
    let (Some(m), Some(d)) = (words.next(), words.next()) else {
        return (None, text);
    };
    let Some(month) = MONTHS.iter().position(|x| m.starts_with(x)) else {
        return (None, text);
    };
    let Ok(day) = d.trim_end_matches(',').parse::<i8>() else {
        return (None, text);
    };
    let rest = words.next().unwrap_or("");
    let rest = rest.strip_prefix("at ").unwrap_or(rest);
    (Some((month as i8 + 1, day)), rest)
}

/// `5pm`, `5:35pm`, `5:35 PM`, `17:35` at the start of `text`: hour, minute and the rest.
fn clock(text: &str) -> Option<(i8, i8, &str)> {
    let digits = |s: &str| s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let n = digits(text);
    if n == 0 || n > 2 {
        return None;
    }
    let mut hour: i8 = text[..n].parse().ok()?;
    let mut rest = &text[n..];
    let mut minute: i8 = 0;
    if let Some(r) = rest.strip_prefix(':') {
        let m = digits(r);
        if m != 2 {
            return None;
        }
        minute = r[..2].parse().ok()?;
        rest = &r[2..];
    }
    let lower = rest.trim_start().to_ascii_lowercase();
    let (pm, am) = (lower.starts_with("pm"), lower.starts_with("am"));
    if pm || am {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (pm, hour) {
            (true, 12) => 12,
            (true, h) => h + 12,
            (false, 12) => 0,
            (false, h) => h,
        };
        rest = &rest.trim_start()[2..];
    }
    ((0..24).contains(&hour) && (0..60).contains(&minute)).then_some((hour, minute, rest))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// 2026-12-01 16:00:00 UTC.
    const NOW: Millis = 1_796_140_800_000;

    fn utc(text: &str) -> String {
        let ms = parse_reset(text, NOW, &TimeZone::UTC).unwrap();
        Timestamp::from_millisecond(ms).unwrap().to_string()
    }

    #[test]
    fn the_reset_time_is_read_in_its_zone() {
        assert_eq!(
            Timestamp::from_millisecond(NOW).unwrap().to_string(),
            "2026-12-01T16:00:00Z"
        );
        assert_eq!(
            utc("You've hit your session limit · resets 5:35pm (UTC)"),
            "2026-12-01T17:35:00Z"
        );
        assert_eq!(utc("resets 5pm (Europe/Paris)"), "2026-12-01T16:00:00Z");
        assert_eq!(utc("resets 6pm (Europe/Paris)"), "2026-12-01T17:00:00Z");
        assert_eq!(utc("resets 17:35 (UTC)"), "2026-12-01T17:35:00Z");
        assert_eq!(
            utc("Claude usage limit reached. Your limit will reset at 9am (America/New_York)."),
            "2026-12-02T14:00:00Z"
        );
    }

    #[test]
    fn a_time_already_past_is_tomorrows_and_12_hour_clocks_are_read_right() {
        assert_eq!(utc("resets 3:58pm (UTC)"), "2026-12-02T15:58:00Z");
        // A minute of grace: the reset that is now is not tomorrow's.
        assert_eq!(utc("resets 4pm (UTC)"), "2026-12-01T16:00:00Z");
        assert_eq!(utc("resets 12am (UTC)"), "2026-12-02T00:00:00Z");
        assert_eq!(utc("resets 12pm (UTC)"), "2026-12-02T12:00:00Z");
        assert_eq!(utc("resets 1am (UTC)"), "2026-12-02T01:00:00Z");
        assert_eq!(utc("resets 5:35 PM (UTC)"), "2026-12-01T17:35:00Z");
    }

    #[test]
    fn a_date_and_a_zone_missing_are_handled() {
        assert_eq!(utc("resets Dec 3 at 10am (UTC)"), "2026-12-03T10:00:00Z");
        assert_eq!(utc("resets Jan 2, 10am (UTC)"), "2027-01-02T10:00:00Z");
        // No zone: the machine's.
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let ms = parse_reset("resets 6pm", NOW, &paris).unwrap();
        assert_eq!(
            Timestamp::from_millisecond(ms).unwrap().to_string(),
            "2026-12-01T17:00:00Z"
        );
        assert_eq!(parse_reset("resets soon", NOW, &TimeZone::UTC), None);
        assert_eq!(parse_reset("resets 25pm (UTC)", NOW, &TimeZone::UTC), None);
        assert_eq!(parse_reset("no reset here", NOW, &TimeZone::UTC), None);
    }

    #[test]
    fn only_a_limit_in_the_last_turn_counts() {
        let subscriber = "❯ ratelimit\n  ⎿  You've hit your session limit · resets 5:41pm (UTC)\n✻ Brewed for 0s\n❯ /rate-limit-options\n────\n  What do you want to do?\n  ❯ 1. Stop and wait for limit to reset\n    2. Upgrade your plan";
        let seen = limit_in(subscriber, NOW, &TimeZone::UTC).unwrap();
        assert_eq!(
            Timestamp::from_millisecond(seen.until.unwrap())
                .unwrap()
                .to_string(),
            "2026-12-01T17:41:00Z"
        );
        assert!(seen.line.starts_with("⎿  You've hit your session limit"));
        let api = "❯ ratelimit\n● API Error: Request rejected (429) · This request would exceed your account's rate limit. Please try again later.\n────\n❯ \n────";
        let seen = limit_in(api, NOW, &TimeZone::UTC).unwrap();
        assert_eq!(seen.until, None);
        let later = format!("{api}\n❯ hello\n● Hi!\n✻ Baked for 1s\n❯ ");
        assert_eq!(limit_in(&later, NOW, &TimeZone::UTC), None);
        assert_eq!(limit_in("● Hello\n❯ ", NOW, &TimeZone::UTC), None);
    }
}
