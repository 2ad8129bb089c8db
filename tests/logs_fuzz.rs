//! Fuzz-style property tests: arbitrary bytes (and mangled real-looking rows) fed to every
//! importer, to format detection and to a full folder load never panic.

use proptest::prelude::*;
use std::io::Cursor;
use weft::logs::{self, detect, read_format, Collect, Format, PlayRule};

const FORMATS: [Format; 9] = [
    Format::SpotifyExtended,
    Format::SpotifyAccount,
    Format::ListenBrainzArray,
    Format::ListenBrainzJsonl,
    Format::WeftSession,
    Format::LastfmCsv,
    Format::Scrobbler,
    Format::Lastfm1kTsv,
    Format::DailyCsv,
];

const SEEDS: [&str; 6] = [
    "[{\"ts\":\"2024-01-02T10:03:20Z\",\"ms_played\":200000,\"master_metadata_track_name\":\"a\"}]",
    "{\"listened_at\": 1700000000, \"track_metadata\": {\"artist_name\": \"a\", \"track_name\": \"b\"}}\n",
    "\"uts\",\"utc_time\",\"artist\",\"artist_mbid\",\"album\",\"album_mbid\",\"track\",\"track_mbid\"\n\"1\",\"x\",\"a\",\"\",\"\",\"\",\"t\",\"\"\n",
    "#AUDIOSCROBBLER/1.1\na\tb\tc\t1\t200\tL\t1200000000\t\n",
    "u\t2009-05-04T23:08:57Z\t\ta\t\tt\n",
    "{\"kind\":\"weft-session\",\"date\":\"2026-11-25T20:15:00Z\",\"duration_s\":3,\"patches\":[\"a\"]}\n",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = detect("x", &bytes);
        for f in FORMATS {
            let mut c = Collect::default();
            read_format(f, "x", Cursor::new(bytes.clone()), &mut c).unwrap();
        }
    }

    #[test]
    fn mangled_rows_never_panic(seed in 0usize..SEEDS.len(), cut in 0usize..400, flips in proptest::collection::vec((0usize..400, any::<u8>()), 0..8)) {
        let mut b = SEEDS[seed].as_bytes().to_vec();
        for (i, v) in flips {
            if !b.is_empty() {
                let i = i % b.len();
                b[i] = v;
            }
        }
        b.truncate(cut.min(b.len()));
        let _ = detect("x.csv", &b);
        for f in FORMATS {
            let mut c = Collect::default();
            read_format(f, "x", Cursor::new(b.clone()), &mut c).unwrap();
        }
    }
}

#[test]
fn garbage_files_and_a_broken_zip_in_a_folder_load_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), b"[{\"ts\": 1,").unwrap();
    std::fs::write(dir.path().join("b.zip"), b"PK\x03\x04garbage").unwrap();
    std::fs::write(dir.path().join("c.tsv"), b"\xff\xfe\x00").unwrap();
    // The broken zip is skipped and reported (issue #15); the other files still load.
    let l = logs::load(dir.path(), PlayRule::default()).unwrap();
    assert_eq!(l.report.skipped.len(), 1, "{:?}", l.report.skipped);
    assert!(l.report.skipped[0].contains("b.zip"));
    assert_eq!(l.report.bad, 1);
    std::fs::remove_file(dir.path().join("b.zip")).unwrap();
    let l = logs::load(dir.path(), PlayRule::default()).unwrap();
    assert_eq!(l.report.bad, 1);
}
