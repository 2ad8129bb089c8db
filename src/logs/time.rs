//! Calendar arithmetic for the importers: civil dates ↔ days since 1970-01-01 (proleptic
//! Gregorian, Howard Hinnant's algorithms) and the timestamp layouts the exports use. Pure
//! functions over `&str`, no allocation, all times UTC seconds.

/// Days since 1970-01-01 for a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Civil date (year, month, day) of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD` of a day number.
pub fn date_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// ISO-8601 UTC `YYYY-MM-DDTHH:MM:SSZ` of unix seconds.
pub fn iso_string(ts: i64) -> String {
    let day = ts.div_euclid(86400);
    let s = ts.rem_euclid(86400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_string(day),
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
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

fn valid(y: u32, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> bool {
    (1900..=2200).contains(&y)
        && (1..=12).contains(&m)
        && (1..=31).contains(&d)
        && hh < 24
        && mm < 60
        && ss < 61
}

/// `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    valid(y, m, d, 0, 0, 0).then(|| days_from_civil(y as i64, m, d))
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+00:00]` → unix seconds (UTC; an explicit offset is applied).
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 16 || (b[10] != b'T' && b[10] != b' ') || b[13] != b':' {
        return None;
    }
    let day = parse_date(std::str::from_utf8(&b[..10]).ok()?)?;
    let hh = num(&b[11..13])?;
    let mm = num(&b[14..16])?;
    let mut i = 16;
    let mut ss = 0;
    if b.len() >= 19 && b[16] == b':' {
        ss = num(&b[17..19])?;
        i = 19;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    if !valid(2000, 1, 1, hh, mm, ss) {
        return None;
    }
    let mut off = 0i64;
    let rest = &b[i..];
    match rest {
        [] | [b'Z'] => {}
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let oh = num(&[*h1, *h2])? as i64;
            let om = num(&[*m1, *m2])? as i64;
            off = (oh * 3600 + om * 60) * if *sign == b'+' { 1 } else { -1 };
        }
        _ => return None,
    }
    Some(day * 86400 + (hh * 3600 + mm * 60 + ss) as i64 - off)
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
    if it.next().is_some() || !valid(y, m, d, hh, mm, 0) {
        return None;
    }
    Some(days_from_civil(y as i64, m, d) * 86400 + (hh * 3600 + mm * 60) as i64)
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
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
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
