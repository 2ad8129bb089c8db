//! Dates in the importers go through one checked path: a day that does not exist (31 February,
//! 29 February of a common year) or an offset no clock uses is a bad row naming its line, never
//! a play silently moved into March.

use weft::logs::{read_format, Collect, Format};

fn import(format: Format, text: &str) -> Collect {
    let mut c = Collect::default();
    read_format(format, "fixture", text.as_bytes(), &mut c).unwrap();
    c
}

fn bad(c: &Collect) -> Vec<(u64, &str)> {
    c.bad.iter().map(|(l, s)| (*l, s.as_str())).collect()
}

fn stamps(c: &Collect) -> Vec<i64> {
    c.records.iter().map(|r| r.ts).collect()
}

#[test]
fn lastfm_1k_fixed_layout_refuses_days_that_do_not_exist() {
    let tsv = "u1\t2024-02-29T10:00:00Z\t\tA\t\tleap day\n\
               u1\t2023-02-29T10:00:00Z\t\tA\t\tnot a leap year\n\
               u1\t2023-02-31T10:00:00Z\t\tA\t\t31 February\n\
               u1\t2023-04-31T10:00:00Z\t\tA\t\t31 April\n\
               u1\t2000-02-29T00:00:00Z\t\tA\t\t2000 is a leap year\n";
    let c = import(Format::Lastfm1kTsv, tsv);
    assert_eq!(
        stamps(&c),
        vec![19782 * 86400 + 36000, 11016 * 86400],
        "{:?}",
        bad(&c)
    );
    assert_eq!(
        bad(&c),
        vec![
            (2, "bad timestamp \"2023-02-29T10:00:00Z\""),
            (3, "bad timestamp \"2023-02-31T10:00:00Z\""),
            (4, "bad timestamp \"2023-04-31T10:00:00Z\""),
        ]
    );
}

#[test]
fn spotify_timestamps_apply_offsets_and_refuse_bad_ones() {
    let row = |ts: &str| {
        format!(
            "{{\"ts\": \"{ts}\", \"ms_played\": 200000, \"master_metadata_track_name\": \"T\", \
             \"master_metadata_album_artist_name\": \"A\"}}"
        )
    };
    let json = [
        "[".to_string(),
        row("2024-02-29T12:00:00Z") + ",",
        row("2024-02-29T14:00:00+02:00") + ",",
        row("2024-02-29T12:00:00+25:00") + ",",
        row("2024-02-29T12:00:00+02:99") + ",",
        row("2023-02-29T12:00:00Z") + ",",
        row("2024-02-31 12:00:00"),
        "]".to_string(),
    ]
    .join("\n");
    let c = import(Format::SpotifyExtended, &json);
    // `ts` is when playback ended: the play starts 200 s earlier.
    let start = 19782 * 86400 + 12 * 3600 - 200;
    assert_eq!(stamps(&c), vec![start, start], "{:?}", bad(&c));
    assert_eq!(
        bad(&c),
        vec![
            (4, "bad ts \"2024-02-29T12:00:00+25:00\""),
            (5, "bad ts \"2024-02-29T12:00:00+02:99\""),
            (6, "bad ts \"2023-02-29T12:00:00Z\""),
            (7, "bad ts \"2024-02-31 12:00:00\""),
        ]
    );
}

#[test]
fn lastfm_csv_text_dates_refuse_31_february() {
    let csv = "Kraftwerk,Computer World,Numbers,29 Feb 2024 12:34\n\
               Can,Tago Mago,Halleluhwah,31 Feb 2021 12:34\n";
    let c = import(Format::LastfmCsv, csv);
    assert_eq!(stamps(&c), vec![19782 * 86400 + 12 * 3600 + 34 * 60]);
    assert_eq!(c.bad.len(), 1, "{:?}", bad(&c));
    assert_eq!(c.bad[0].0, 2);
}
