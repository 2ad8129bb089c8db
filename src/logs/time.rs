//! Calendar arithmetic for the importers, through `jiff`: civil dates ↔ days since
//! 1970-01-01 and the timestamp layouts the exports use. All times are UTC seconds.
//!
//! Every date is validated by `jiff` (31 February or 29 February of a common year is no date,
//! not a day in March), years must lie in 1900..=2200 (anything else in a listening export is
//! a corrupt field), and an explicit offset must lie within ±18:00. The parsers return `None`
//! for anything else; the importers turn that into a bad-row report naming the line.

use jiff::civil::{Date, Time};
use jiff::fmt::temporal::Pieces;
use jiff::tz::Offset;
use jiff::Timestamp;

/// Years a listening export can plausibly hold.
const YEARS: std::ops::RangeInclusive<i16> = 1900..=2200;
/// Largest UTC offset accepted, in seconds (ISO 8601 practice; real zones span −12…+14 h).
const MAX_OFFSET: i32 = 18 * 3600;
const DAY: i64 = 86_400;

/// Days since 1970-01-01 of a civil date.
pub fn day_of(date: Date) -> i64 {
    Offset::UTC
        .to_timestamp(date.to_datetime(Time::midnight()))
        .expect("every civil date fits in a timestamp")
        .as_second()
        .div_euclid(DAY)
}

/// Civil date (year, month, day) of a day number (within jiff's range, years −9999..=9999).
pub fn civil_from_days(day: i64) -> (i64, u32, u32) {
    let d = date_of(day);
    (d.year() as i64, d.month() as u32, d.day() as u32)
}

fn date_of(day: i64) -> Date {
    let ts = Timestamp::from_second(day * DAY).expect("day number within jiff's range");
    Offset::UTC.to_datetime(ts).date()
}

/// `YYYY-MM-DD` of a day number.
pub fn date_string(day: i64) -> String {
    date_of(day).to_string()
}

/// ISO-8601 UTC `YYYY-MM-DDTHH:MM:SSZ` of unix seconds.
pub fn iso_string(ts: i64) -> String {
    Timestamp::from_second(ts)
        .expect("unix seconds within jiff's range")
        .to_string()
}

/// A checked civil date in the accepted year range.
fn civil(y: u32, m: u32, d: u32) -> Option<Date> {
    let y = i16::try_from(y).ok().filter(|y| YEARS.contains(y))?;
    Date::new(y, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// `YYYY-MM-DD` → day number.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    civil(y, m, d).map(day_of)
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|±HH:MM|±HHMM]` → unix seconds (no offset means UTC; an
/// explicit one is applied). Parsed by jiff's ISO 8601 / RFC 3339 parser; time zone
/// annotations (`[Europe/Paris]`) are refused, as no export writes them.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    // The exports' layout: a full date, then a time with at least hours and minutes.
    if b.len() < 16 || (b[10] != b'T' && b[10] != b' ') || b[13] != b':' {
        return None;
    }
    let p = Pieces::parse(b).ok()?;
    let time = p.time()?;
    if p.time_zone_annotation().is_some() || !YEARS.contains(&p.date().year()) {
        return None;
    }
    let off = p.to_numeric_offset().unwrap_or(Offset::UTC);
    if off.seconds().abs() > MAX_OFFSET {
        return None;
    }
    let ts = off.to_timestamp(p.date().to_datetime(time)).ok()?;
    Some(ts.as_second())
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `31 Jan 2021 12:34` (lastfm-to-csv) → unix seconds.
pub fn parse_dmy_text(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace();
    let d = num(it.next()?.as_bytes())?;
    let mon = it.next()?.to_ascii_lowercase();
    let m = MONTHS.iter().position(|x| mon.starts_with(x))? as u32 + 1;
    let y = num(it.next()?.as_bytes())?;
    let (hh, mm) = match it.next() {
        Some(t) => {
            let (h, mi) = t.split_once(':')?;
            (num(h.as_bytes())?, num(mi.as_bytes())?)
        }
        None => (0, 0),
    };
    if it.next().is_some() || hh > 23 || mm > 59 {
        return None;
    }
    Some(day_of(civil(y, m, d)?) * DAY + (hh * 3600 + mm * 60) as i64)
}

/// Unix time in seconds or milliseconds (values above 1e11 are taken as ms).
pub fn epoch_any(v: f64) -> Option<i64> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(if v > 1e11 {
        (v / 1000.0) as i64
    } else {
        v as i64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_days() {
        for z in [-1000, 0, 1, 59, 10957, 20000, 25000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(day_of(jiff::civil::date(y as i16, m as i8, d as i8)), z);
        }
        assert_eq!(day_of(jiff::civil::date(2000, 3, 1)), 11017);
        assert_eq!(day_of(jiff::civil::date(1969, 12, 31)), -1);
        assert_eq!(date_string(-1), "1969-12-31");
        assert_eq!(iso_string(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn dates_that_do_not_exist_are_refused() {
        // 31 February used to roll into 3 March.
        assert_eq!(parse_date("2023-02-31"), None);
        assert_eq!(parse_datetime("2023-02-31T10:00:00Z"), None);
        assert_eq!(parse_dmy_text("31 Feb 2023 10:00"), None);
        assert_eq!(parse_date("2023-04-31"), None);
        // 29 February: leap years only (2000 is one, 1900 and 2100 are not).
        assert_eq!(parse_date("2024-02-29"), Some(19782));
        assert_eq!(parse_date("2000-02-29"), Some(11016));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_date("1900-02-29"), None);
        assert_eq!(parse_date("2100-02-29"), None);
        assert_eq!(
            parse_datetime("2024-02-29 23:59"),
            Some(19782 * 86400 + 86340)
        );
        assert_eq!(parse_datetime("2023-02-29 23:59"), None);
        assert_eq!(parse_dmy_text("29 Feb 2024 00:00"), Some(19782 * 86400));
        assert_eq!(parse_dmy_text("29 Feb 2023 00:00"), None);
        // Years outside 1900..=2200 are corrupt fields.
        assert_eq!(parse_date("1899-12-31"), None);
        assert_eq!(parse_datetime("2201-01-01T00:00:00Z"), None);
    }

    #[test]
    fn offsets_are_applied_and_bad_ones_refused() {
        let utc = parse_datetime("2009-04-08T01:57:47Z");
        assert_eq!(parse_datetime("2009-04-08T03:57:47+0200"), utc);
        assert_eq!(parse_datetime("2009-04-07T20:27:47-05:30"), utc);
        assert_eq!(parse_datetime("2009-04-08T01:57:47+00:00"), utc);
        for bad in [
            "2009-04-08T01:57:47+25:00",
            "2009-04-08T01:57:47+19:00",
            "2009-04-08T01:57:47+02:60",
            "2009-04-08T01:57:47+2:00",
            "2009-04-08T01:57:47+02:00junk",
            "2009-04-08T01:57:47 +02:00",
            "2009-04-08T01:57:47[Europe/Paris]",
            "2009-04-08T24:00:00Z",
            "2009-04-08T01:60:00Z",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(parse_datetime("2009-04-08T01:57:47Z"), Some(1239155867));
        assert_eq!(parse_datetime("2009-04-08 01:57:47"), Some(1239155867));
        assert_eq!(
            parse_datetime("2009-04-08T03:57:47+02:00"),
            Some(1239155867)
        );
        assert_eq!(parse_datetime("2024-08-02 22:44"), Some(1722638640));
        assert_eq!(parse_dmy_text("31 Jan 2021 12:34"), Some(1612096440));
        assert_eq!(parse_datetime("2009-13-08T01:57:47Z"), None);
        assert_eq!(iso_string(1239155867), "2009-04-08T01:57:47Z");
    }
}
