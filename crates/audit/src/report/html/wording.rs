//! Counts, durations and times in words, as people read them.

use time::OffsetDateTime;
use time::macros::format_description;

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "ab12 cd34 ef56 7890": easier to read aloud.
pub(super) fn group4(s: &str) -> String {
    s.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "7 days", "1 day", "6 hours", "90 seconds".
pub(super) fn duration_words(s: u64) -> String {
    if s == 0 {
        "0 seconds".to_owned()
    } else if s.is_multiple_of(86_400) {
        plural((s / 86_400) as usize, "day", "days")
    } else if s.is_multiple_of(3600) {
        plural((s / 3600) as usize, "hour", "hours")
    } else if s.is_multiple_of(60) {
        plural((s / 60) as usize, "minute", "minutes")
    } else {
        plural(s as usize, "second", "seconds")
    }
}

pub(super) fn duration_between(a: OffsetDateTime, b: OffsetDateTime) -> String {
    let s = (b - a).whole_seconds().max(0) as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => plural(s as usize, "second", "seconds"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m:02} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

fn offset_words(t: OffsetDateTime) -> String {
    let o = t.offset();
    if o.is_utc() {
        "UTC".to_owned()
    } else {
        let (h, m, _) = o.as_hms();
        format!(
            "UTC{}{:02}:{:02}",
            if o.is_negative() { '-' } else { '+' },
            h.abs(),
            m.abs()
        )
    }
}

pub(super) fn date_time(t: OffsetDateTime) -> String {
    let s = t
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    format!("{s} {}", offset_words(t))
}

/// The end of a span: the time only when it is the same day as the start.
pub(super) fn same_day_time(start: OffsetDateTime, end: OffsetDateTime) -> String {
    let end = end.to_offset(start.offset());
    if end.date() == start.date() {
        let s = end
            .format(format_description!("[hour]:[minute]:[second]"))
            .unwrap_or_default();
        format!("{s} {}", offset_words(end))
    } else {
        date_time(end)
    }
}

pub(super) fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// An RFC 3339 time as "2026-03-14 09:12:05 UTC", or as given if unreadable.
pub(super) fn long_time(s: &str) -> String {
    parse_time(s).map(date_time).unwrap_or_else(|| s.to_owned())
}

/// An RFC 3339 time as "2026-03-14 09:12 UTC", or as given if unreadable.
pub(super) fn short_time(s: &str) -> String {
    match parse_time(s) {
        Some(t) => {
            let f = t
                .format(format_description!("[year]-[month]-[day] [hour]:[minute]"))
                .unwrap_or_default();
            format!("{f} {}", offset_words(t))
        }
        None => s.to_owned(),
    }
}
