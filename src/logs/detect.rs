//! Format detection: which export a file is, from its name and first bytes (Spotify
//! account/extended history, ListenBrainz array or JSONL, Last.fm-1K TSV, scrobbler log,
//! daily CSV, weft's own session log).

use super::*;

/// The export formats weft recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    SpotifyExtended,
    SpotifyAccount,
    ListenBrainzArray,
    ListenBrainzJsonl,
    WeftSession,
    LastfmCsv,
    Scrobbler,
    Lastfm1kTsv,
    DailyCsv,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::SpotifyExtended => "spotify-extended",
            Format::SpotifyAccount => "spotify-account",
            Format::ListenBrainzArray => "listenbrainz-json",
            Format::ListenBrainzJsonl => "listenbrainz-jsonl",
            Format::WeftSession => "weft-session",
            Format::LastfmCsv => "lastfm-csv",
            Format::Scrobbler => "scrobbler-log",
            Format::Lastfm1kTsv => "lastfm-1k-tsv",
            Format::DailyCsv => "daily-csv",
        })
    }
}

pub(super) fn contains(h: &[u8], n: &[u8]) -> bool {
    h.windows(n.len()).any(|w| w == n)
}

/// Detect a format from the file name and the first bytes (BOM and whitespace allowed).
pub fn detect(name: &str, head: &[u8]) -> Option<Format> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let lower = base.to_ascii_lowercase();
    if lower == "user.json" || lower.starts_with("feedback") || lower.ends_with(".zip") {
        return None;
    }
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|c| !c.is_ascii_whitespace())?;
    let body = &head[start..];
    match body[0] {
        b'[' => {
            if contains(body, b"\"listened_at\"") {
                Some(Format::ListenBrainzArray)
            } else if contains(body, b"\"endTime\"") {
                Some(Format::SpotifyAccount)
            } else if contains(body, b"\"ms_played\"") || contains(body, b"\"ts\"") {
                Some(Format::SpotifyExtended)
            } else if body[1..].iter().find(|c| !c.is_ascii_whitespace()) == Some(&b']') {
                // An empty array: name decides.
                if lower.starts_with("streaminghistory") {
                    Some(Format::SpotifyAccount)
                } else if lower.starts_with("streaming_history") || lower.starts_with("endsong") {
                    Some(Format::SpotifyExtended)
                } else {
                    None
                }
            } else {
                None
            }
        }
        b'{' => {
            let first = body.split(|&c| c == b'\n').next().unwrap_or(body);
            if contains(first, b"\"weft-session\"") {
                Some(Format::WeftSession)
            } else if contains(first, b"\"listened_at\"") {
                Some(Format::ListenBrainzJsonl)
            } else {
                None
            }
        }
        b'#' if body.starts_with(b"#AUDIOSCROBBLER") || lower.ends_with("scrobbler.log") => {
            Some(Format::Scrobbler)
        }
        _ => {
            let first = body.split(|&c| c == b'\n').next().unwrap_or(body);
            let first = first.strip_suffix(b"\r").unwrap_or(first);
            let text = String::from_utf8_lossy(first);
            let lt = text.to_ascii_lowercase();
            if lower.ends_with("scrobbler.log") {
                return Some(Format::Scrobbler);
            }
            if lt.starts_with("date,") || lt.starts_with("\"date\",") {
                return Some(Format::DailyCsv);
            }
            let tabs: Vec<&str> = text.split('\t').collect();
            if tabs.len() == 6 && time::parse_datetime(tabs[1]).is_some() {
                return Some(Format::Lastfm1kTsv);
            }
            if (lt.starts_with("uts,") || lt.starts_with("\"uts\",") || text.contains(','))
                && (lower.ends_with(".csv") || text::csv_layout(first).is_some())
            {
                return Some(Format::LastfmCsv);
            }
            None
        }
    }
}
