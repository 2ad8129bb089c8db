//! Importer tests on small hand-written fixtures of each real export layout: exact parsed
//! records and exact `line: reason` errors; plus folder/zip loading with users, dedupe,
//! the play rule and episodes kept apart.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use weft::logs::{self, detect, read_format, Collect, Format, Kind, OwnedRecord, PlayRule};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/logs")
        .join(name)
}

fn read(name: &str) -> (Format, Collect) {
    let p = fixture(name);
    let mut r = BufReader::new(std::fs::File::open(&p).unwrap());
    let head = r.fill_buf().unwrap().to_vec();
    let f = detect(name, &head).unwrap_or_else(|| panic!("{name} not detected"));
    let mut c = Collect::default();
    read_format(f, name, r, &mut c).unwrap();
    (f, c)
}

fn rec(ts: i64, artist: &str, track: &str) -> OwnedRecord {
    OwnedRecord {
        ts,
        artist: artist.into(),
        track: track.into(),
        ..Default::default()
    }
}

fn bad(c: &Collect) -> Vec<(u64, &str)> {
    c.bad.iter().map(|(l, s)| (*l, s.as_str())).collect()
}

#[test]
fn spotify_extended_with_bom_crlf_nulls_podcast_and_bad_elements() {
    let (f, c) = read("Streaming_History_Audio_2024_0.json");
    assert_eq!(f, Format::SpotifyExtended);
    assert_eq!(
        c.records,
        vec![
            OwnedRecord {
                user: Some("anna".into()),
                album: "LP".into(),
                ms_played: Some(200_000),
                id: Some("spotify:track:abc".into()),
                ..rec(1704189600, "Band feat. Guest", "Song A")
            },
            OwnedRecord {
                ms_played: Some(1_200_000),
                kind: Kind::Episode,
                id: Some("spotify:episode:e1".into()),
                ..rec(1704193200 - 1200, "Talk", "Ep 1")
            },
            OwnedRecord {
                ms_played: Some(4000),
                skipped: Some(true),
                ..rec(1704197400 - 4, "Band", "Song B")
            },
        ]
    );
    assert_eq!(
        bad(&c),
        vec![
            (23, "ms_played: expected number, got string"),
            (28, "no track, episode or chapter name (all metadata null)"),
        ]
    );
}

#[test]
fn spotify_account_data_music_and_podcast() {
    let (f, c) = read("StreamingHistory_music_0.json");
    assert_eq!(f, Format::SpotifyAccount);
    assert_eq!(
        c.records,
        vec![
            OwnedRecord {
                ms_played: Some(185_000),
                ..rec(1722638640 - 185, "Solo", "Night")
            },
            OwnedRecord {
                ms_played: Some(60_000),
                kind: Kind::Episode,
                ..rec(1722639000 - 60, "Pod", "Ep 9")
            },
        ]
    );
    assert_eq!(bad(&c), vec![(14, "bad endTime \"yesterday\"")]);
}

#[test]
fn listenbrainz_jsonl_and_array() {
    let (f, c) = read("listens.jsonl");
    assert_eq!(f, Format::ListenBrainzJsonl);
    assert_eq!(
        c.records,
        vec![
            OwnedRecord {
                album: "Rel".into(),
                id: Some("mbid-1".into()),
                ..rec(1_700_000_000, "Artist One", "Tune")
            },
            rec(1_700_000_300, "Artist Two", "Other"),
        ]
    );
    assert_eq!(c.bad.len(), 2);
    assert_eq!(c.bad[0], (3, "missing artist_name".to_string()));
    assert_eq!(c.bad[1].0, 4);
    assert!(c.bad[1].1.starts_with("invalid JSON: "), "{}", c.bad[1].1);

    let (f, c) = read("listens_array.json");
    assert_eq!(f, Format::ListenBrainzArray);
    assert_eq!(
        c.records,
        vec![OwnedRecord {
            user: Some("lb".into()),
            ..rec(1_600_000_000, "A", "T")
        }]
    );
    assert_eq!(bad(&c), vec![(2, "bad listened_at")]);
}

#[test]
fn lastfm_csv_three_layouts() {
    let (f, c) = read("ghan.csv");
    assert_eq!(f, Format::LastfmCsv);
    assert_eq!(
        c.records,
        vec![
            OwnedRecord {
                album: "Computer World".into(),
                id: Some("tm-1".into()),
                ..rec(1612096440, "Kraftwerk", "Numbers")
            },
            OwnedRecord {
                album: "Computer World".into(),
                ..rec(1612096640, "Kraftwerk", "Computer Love")
            },
        ]
    );
    assert_eq!(bad(&c), vec![(3, "bad uts \"x\"")]);

    let (_, c) = read("benjamin.csv");
    assert_eq!(
        c.records,
        vec![
            OwnedRecord {
                album: "Computer World".into(),
                ..rec(1612096440, "Kraftwerk", "Numbers")
            },
            OwnedRecord {
                album: "Tago Mago".into(),
                ..rec(1612166400, "Can, The", "Halleluhwah")
            },
        ]
    );
    assert_eq!(bad(&c), vec![(3, "expected 4 fields, got 3")]);

    let (_, c) = read("backup.csv");
    assert_eq!(c.records, vec![rec(1612096440, "Kraftwerk", "Numbers")]);
    assert_eq!(
        bad(&c),
        vec![(2, "bad date/time \"2021-01-31\" \"99:00:00\"")]
    );
}

#[test]
fn scrobbler_log_listened_and_skipped() {
    let (f, c) = read(".scrobbler.log");
    assert_eq!(f, Format::Scrobbler);
    assert_eq!(
        c.records,
        vec![
            OwnedRecord {
                album: "The Album".into(),
                ms_played: Some(200_000),
                skipped: Some(false),
                id: Some("mb-1".into()),
                ..rec(1_200_000_000, "The Artist", "First")
            },
            OwnedRecord {
                skipped: Some(true),
                ..rec(1_200_000_300, "The Artist", "Second")
            },
        ]
    );
    assert_eq!(bad(&c), vec![(6, "bad rating \"X\" (expected L or S)")]);
}

#[test]
fn lastfm_1k_tsv_many_users() {
    let (f, c) = read("lastfm1k.tsv");
    assert_eq!(f, Format::Lastfm1kTsv);
    assert_eq!(
        c.records,
        vec![
            OwnedRecord {
                user: Some("user_000001".into()),
                ..rec(
                    1241478537,
                    "Deep Dish",
                    "Fuck Me Im Famous (Pacha Ibiza)-09-28-2007"
                )
            },
            OwnedRecord {
                user: Some("user_000001".into()),
                ..rec(1241445250, "坂本龍一", "Composition 0919 (Live_2009_4_15)")
            },
        ]
    );
    assert_eq!(
        bad(&c),
        vec![
            (3, "bad timestamp \"not-a-date\""),
            (4, "expected 6 tab-separated fields, got 3"),
        ]
    );
}

#[test]
fn daily_streams_csv() {
    let (f, c) = read("streams.csv");
    assert_eq!(f, Format::DailyCsv);
    assert_eq!(
        c.daily,
        vec![
            ("streams".to_string(), 19723, 100.0),
            ("streams".to_string(), 19724, 120.0),
            ("streams".to_string(), 19727, 90.0),
        ]
    );
    assert_eq!(bad(&c), vec![(4, "bad value \"-5\"")]);
}

/// A ListenBrainz export zip built from fixture text, the way the service lays it out.
fn write_lb_zip(dir: &Path) -> PathBuf {
    let p = dir.join("listenbrainz_zoe_1700000000.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file("user.json", o).unwrap();
    z.write_all(br#"{"user_id": 7, "username": "zoe"}"#)
        .unwrap();
    z.start_file("listens/2023/11.jsonl", o).unwrap();
    z.write_all(&std::fs::read(fixture("listens.jsonl")).unwrap())
        .unwrap();
    z.start_file("feedback.jsonl", o).unwrap();
    z.write_all(b"{\"score\": 1}\n").unwrap();
    z.finish().unwrap();
    p
}

#[test]
fn folder_with_zip_users_rule_dedupe_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let anna = dir.path().join("anna");
    std::fs::create_dir(&anna).unwrap();
    write_lb_zip(&anna);
    // The same listens again as plain JSONL in another folder of the same user: dupes.
    let zoe = dir.path().join("zoe");
    std::fs::create_dir(&zoe).unwrap();
    std::fs::copy(fixture("listens.jsonl"), zoe.join("1.jsonl")).unwrap();
    std::fs::copy(
        fixture("Streaming_History_Audio_2024_0.json"),
        anna.join("Streaming_History_Audio_2024_0.json"),
    )
    .unwrap();
    std::fs::write(dir.path().join("README.txt"), "not a log").unwrap();

    let logs = logs::load(dir.path(), PlayRule::default()).unwrap();
    let r = &logs.report;
    assert_eq!(r.files.len(), 3, "{:?}", r.files);
    // zip listens: user from user.json; plain copy under zoe/: folder user → duplicates.
    assert_eq!(r.duplicates, 2);
    let zoe_id = logs.users.get("zoe").unwrap();
    assert_eq!(logs.plays.iter().filter(|p| p.user == zoe_id).count(), 2);
    // Spotify: "anna" from username; the skipped 4 s play is not a play; the episode is apart.
    let anna_id = logs.users.get("anna").unwrap();
    assert_eq!(logs.plays.iter().filter(|p| p.user == anna_id).count(), 1);
    assert_eq!(logs.episodes.len(), 1);
    assert_eq!(r.not_a_play, 1);
    assert_eq!(r.bad, 2 + 2 + 2);
    assert!(r.bad_shown.iter().any(|b| b.ends_with(
        "listenbrainz_zoe_1700000000.zip!listens/2023/11.jsonl:3: missing artist_name"
    )));
    assert!(r.bad_shown.iter().any(|b| b.ends_with(
        "anna/Streaming_History_Audio_2024_0.json:23: ms_played: expected number, got string"
    )));
}

#[test]
fn empty_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        logs::load(dir.path(), PlayRule::default()),
        Err(logs::LogError::Empty(_))
    ));
}
