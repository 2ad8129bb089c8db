//! Export writers: the generated plays in the real formats (user i by `i % 5`: Spotify
//! extended JSON with podcast episodes — user 0 also an overlapping account-data export —,
//! ListenBrainz zip, Last.fm CSV, `.scrobbler.log`, rows of a shared Last.fm-1K TSV), plus the
//! streams CSV ([`super::streams`]) and a weft session log.

use super::super::session::{append_session_log, SessionLogLine};
use super::super::time;
use super::{generate, streams, SynthConfig, SynthPlay};
use crate::rng::Rng;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn csvq(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Generate and write all files into `dir`. Returns the number of plays generated.
///
/// Sizes out of range ([`SynthConfig::check`]) are an `InvalidInput` error before anything
/// is generated or written.
pub fn write(cfg: &SynthConfig, dir: &Path) -> std::io::Result<usize> {
    cfg.check()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let w = generate(cfg);
    std::fs::create_dir_all(dir)?;
    let user_name = |u: usize| format!("user{u:02}");
    let mut tsv = String::new();
    for u in 0..cfg.users {
        let mine: Vec<&SynthPlay> = w.plays.iter().filter(|p| p.user == u).collect();
        let udir = dir.join(user_name(u));
        let fmt = u % 5;
        if fmt != 4 {
            std::fs::create_dir_all(&udir)?;
        }
        match fmt {
            0 => {
                let mut s = String::from("[\n");
                let mut rng = Rng::new(cfg.seed ^ (u as u64 + 77));
                let mut first = true;
                for p in &mine {
                    let end = p.ts + (p.ms_played / 1000) as i64;
                    if !first {
                        s.push_str(",\n");
                    }
                    first = false;
                    let _ = write!(
                        s,
                        "{{\"ts\":\"{}\",\"platform\":\"linux\",\"ms_played\":{},\"conn_country\":\"NL\",\"master_metadata_track_name\":{},\"master_metadata_album_artist_name\":{},\"master_metadata_album_album_name\":{},\"spotify_track_uri\":\"spotify:track:{:022x}\",\"episode_name\":null,\"episode_show_name\":null,\"spotify_episode_uri\":null,\"reason_start\":\"trackdone\",\"reason_end\":\"{}\",\"shuffle\":false,\"skipped\":{},\"offline\":false,\"offline_timestamp\":null,\"incognito_mode\":false}}",
                        time::iso_string(end),
                        p.ms_played,
                        json_str(&w.track_names[p.track]),
                        json_str(&w.artist_names[p.artist]),
                        json_str(&w.album_names[w.album_of[p.track]]),
                        p.track as u128 * 7919 + 1,
                        if p.skipped { "fwdbtn" } else { "trackdone" },
                        p.skipped
                    );
                    // An occasional podcast episode in between.
                    if rng.next_f64() < 0.03 {
                        let _ = write!(
                            s,
                            ",\n{{\"ts\":\"{}\",\"platform\":\"android\",\"ms_played\":{},\"master_metadata_track_name\":null,\"master_metadata_album_artist_name\":null,\"master_metadata_album_album_name\":null,\"spotify_track_uri\":null,\"episode_name\":\"Episode {}\",\"episode_show_name\":\"The Weekly Talk\",\"spotify_episode_uri\":\"spotify:episode:{:022x}\",\"skipped\":null}}",
                            time::iso_string(end + 600),
                            900_000 + rng.below(1_800_000),
                            rng.below(300),
                            rng.next_u64()
                        );
                    }
                }
                s.push_str("\n]\n");
                std::fs::write(udir.join("Streaming_History_Audio_2025_0.json"), s)?;
                if u == 0 {
                    // Account-data export covering the last 60 days: overlaps the above.
                    let from = (cfg.start_day + cfg.days - 60) * 86400;
                    let mut s = String::from("[\n");
                    let mut first = true;
                    for p in mine.iter().filter(|p| p.ts >= from) {
                        let end = p.ts + (p.ms_played / 1000) as i64;
                        let iso = time::iso_string(end - end.rem_euclid(60));
                        if !first {
                            s.push_str(",\n");
                        }
                        first = false;
                        let _ = write!(
                            s,
                            "  {{\n    \"endTime\" : \"{} {}\",\n    \"artistName\" : {},\n    \"trackName\" : {},\n    \"msPlayed\" : {}\n  }}",
                            &iso[..10],
                            &iso[11..16],
                            json_str(&w.artist_names[p.artist]),
                            json_str(&w.track_names[p.track]),
                            p.ms_played
                        );
                    }
                    s.push_str("\n]\n");
                    std::fs::write(udir.join("StreamingHistory_music_0.json"), s)?;
                }
            }
            1 => {
                let name = user_name(u);
                let path = udir.join(format!("listenbrainz_{name}_1764000000.zip"));
                let f = std::fs::File::create(path)?;
                let mut z = zip::ZipWriter::new(f);
                let opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                let ze = |e: zip::result::ZipError| std::io::Error::other(e.to_string());
                z.start_file("user.json", opts).map_err(ze)?;
                z.write_all(
                    format!("{{\"user_id\": {}, \"username\": \"{name}\"}}\n", 1000 + u).as_bytes(),
                )?;
                let mut months: std::collections::BTreeMap<(i64, u32), String> = Default::default();
                for p in mine.iter().filter(|p| !p.skipped) {
                    let (y, m, _) = time::civil_from_days(p.ts.div_euclid(86400));
                    let line = format!(
                        "{{\"listened_at\": {}, \"inserted_at\": {}, \"track_metadata\": {{\"artist_name\": {}, \"track_name\": {}, \"release_name\": {}, \"additional_info\": {{\"duration_ms\": {}, \"submission_client\": \"weft-synth\"}}, \"recording_msid\": \"{:032x}\", \"mbid_mapping\": {{\"recording_mbid\": \"{:08x}-0000-4000-8000-{:012x}\", \"artist_mbids\": []}}}}}}\n",
                        p.ts,
                        p.ts + 5,
                        json_str(&w.artist_names[p.artist]),
                        json_str(&w.track_names[p.track]),
                        json_str(&w.album_names[w.album_of[p.track]]),
                        p.duration_ms,
                        p.track as u128 * 104_729,
                        p.track,
                        p.track
                    );
                    months.entry((y, m)).or_default().push_str(&line);
                }
                for ((y, m), body) in months {
                    z.start_file(format!("listens/{y}/{m}.jsonl"), opts)
                        .map_err(ze)?;
                    z.write_all(body.as_bytes())?;
                }
                z.finish().map_err(ze)?;
            }
            2 => {
                let mut s = String::from(
                    "\"uts\",\"utc_time\",\"artist\",\"artist_mbid\",\"album\",\"album_mbid\",\"track\",\"track_mbid\"\n",
                );
                for p in mine.iter().rev().filter(|p| !p.skipped) {
                    let iso = time::iso_string(p.ts);
                    let _ = writeln!(
                        s,
                        "\"{}\",\"{} {}\",{},\"\",{},\"\",{},\"\"",
                        p.ts,
                        &iso[..10],
                        &iso[11..16],
                        csvq(&w.artist_names[p.artist]),
                        csvq(&w.album_names[w.album_of[p.track]]),
                        csvq(&w.track_names[p.track])
                    );
                }
                std::fs::write(udir.join("scrobbles.csv"), s)?;
            }
            3 => {
                let mut s =
                    String::from("#AUDIOSCROBBLER/1.1\n#TZ/UTC\n#CLIENT/Rockbox weft-synth\n");
                for p in &mine {
                    let _ = writeln!(
                        s,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t",
                        w.artist_names[p.artist],
                        w.album_names[w.album_of[p.track]],
                        w.track_names[p.track],
                        1 + w.track_no[p.track],
                        p.duration_ms / 1000,
                        if p.skipped { 'S' } else { 'L' },
                        p.ts
                    );
                }
                std::fs::write(udir.join(".scrobbler.log"), s)?;
            }
            _ => {
                for p in mine.iter().filter(|p| !p.skipped) {
                    let _ = writeln!(
                        tsv,
                        "{}\t{}\t{:08x}-0000-4000-8000-{:012x}\t{}\t\t{}",
                        user_name(u),
                        time::iso_string(p.ts),
                        p.artist,
                        p.artist,
                        w.artist_names[p.artist],
                        w.track_names[p.track]
                    );
                }
            }
        }
    }
    if !tsv.is_empty() {
        std::fs::write(dir.join("lastfm-1k.tsv"), tsv)?;
    }
    if let Some(s) = streams::top_artist_daily(cfg, &w) {
        std::fs::create_dir_all(dir.join("streams"))?;
        std::fs::write(dir.join("streams").join("top_artist_daily.csv"), s)?;
    }
    // A few weft performances.
    let log = dir.join("weft-sessions.jsonl");
    let _ = std::fs::remove_file(&log);
    let mut rng = Rng::new(cfg.seed ^ 0x3EF7);
    for k in 0..6 {
        let day = cfg.start_day + (k * cfg.days.max(6) / 6);
        let mut l = SessionLogLine::new(
            time::iso_string(day * 86400 + 20 * 3600),
            120.0 + rng.below(600) as f64,
            vec![
                "groove.rhai".into(),
                ["bass.rhai", "chords.rhai"][k as usize % 2].into(),
            ],
        );
        l.models = vec!["chorales".into()];
        l.tempo_min = Some(118.0);
        l.tempo_max = Some(126.0);
        append_session_log(&log, &l)?;
    }
    Ok(w.plays.len())
}
