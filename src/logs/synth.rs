//! Demo-data generator (`weft logs synth`): a documented generative model of listening,
//! written out in the real export formats so the importers, recommenders and forecasters run
//! on the same kind of files a user would bring.
//!
//! Model (all draws from one seeded SplitMix64 stream, so output is byte-for-byte repeatable):
//! - **Catalogue**: `A` artists in `G` taste clusters; artist weight ∝ 1/rank^1.1 (long tail);
//!   1–3 albums per artist of 5–12 tracks in order (one "single" weighted ×3, the rest
//!   ∝ 1/√position); 15% of albums are released during the window (new releases: tracks
//!   boosted ×4 for 30 days, the artist's hotness bumped for four weeks); artist "hotness"
//!   otherwise follows a slow random walk.
//! - **Users**: a taste vector over clusters (a favourite and a second cluster); half the users
//!   drift to another favourite cluster (a linear blend over a random stretch of the window);
//!   an activity level (log-normal), a linear trend, and for 30% a level shift (×0.4–2.5 from
//!   a random day); 12–40 favourite tracks (heavy rotation, weight ∝ 1/rank^0.8) that drift:
//!   a track found while exploring enters the rotation with probability 1.5% (8% if released
//!   in the last 30 days) and the least favourite leaves.
//! - **Days**: sessions per day ~ Poisson(activity × weekday factor × yearly factor × trend ×
//!   level), weekday factors Mon..Sun = 0.8 0.85 0.9 0.95 1.15 1.35 1.1, yearly
//!   1 + 0.2·cos(2π(doy−15)/365).
//! - **Sessions**: start hour from an evening-heavy profile, length ~ geometric (mean 10),
//!   gaps ≥ 30 min between sessions; a session is segments (mean 4 tracks): favourites (a
//!   per-user 35–65% of segments), an album in track order (20%: a favourite artist's or a hot
//!   one, mostly from track 1), or exploring the session's cluster (30% replays of the last 200
//!   plays, else the current or a new artist's tracks by weight). Skips: 4% of favourites, 8%
//!   of album tracks, 10–20% while exploring, after 2–25 s.
//! - **Streams CSV**: daily plays of the top artist ×40 + noise, with a level shift (×1.3–1.7
//!   or ×0.6–0.8) at 45–75% of the window and a promotional spike (+150–350%, decaying ×0.45 a
//!   day) per 45 days.
//! - [`World::stats`] measures repeats, own-top-10 share, album-order runs, new releases.
//! - **Formats**: user i writes by `i % 5`: Spotify extended JSON (+ podcast episodes; user 0
//!   also gets an overlapping account-data export, to exercise dedupe), ListenBrainz zip,
//!   Last.fm CSV, `.scrobbler.log`, or rows of a shared Last.fm-1K TSV. Plus a daily streams
//!   CSV for the top artist and a weft session log.

use super::session::{append_session_log, SessionLogLine};
use super::time;
use crate::rng::Rng;
use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

fn cumsum(w: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut s = 0.0;
    w.map(|x| {
        s += x;
        s
    })
    .collect()
}

/// Parameters of `weft logs synth`.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub users: usize,
    pub days: i64,
    pub seed: u64,
    /// First day (days since 1970-01-01).
    pub start_day: i64,
    pub artists: usize,
    pub clusters: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            users: 10,
            days: 180,
            seed: 1,
            start_day: time::day_of(jiff::civil::date(2025, 3, 1)),
            artists: 240,
            clusters: 6,
        }
    }
}

/// Largest `--users` [`write`] accepts.
pub const MAX_USERS: usize = 10_000;
/// Largest `--days` (a century).
pub const MAX_DAYS: i64 = 36_500;
/// Largest users × days: the whole world is generated in memory before it is written, at
/// about ten plays per user-day (half a million user-days ≈ 5 M plays, a few hundred MB).
pub const MAX_USER_DAYS: u64 = 500_000;
/// Largest catalogue (`artists`) and number of taste clusters.
pub const MAX_ARTISTS: usize = 100_000;

/// A generator size out of range.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SizeError(String);

impl SynthConfig {
    /// Checks the sizes before anything is generated: a too-large size would otherwise end
    /// in an allocation failure (an abort, not an error) after minutes of work.
    pub fn check(&self) -> Result<(), SizeError> {
        if self.users > MAX_USERS {
            return Err(SizeError(format!(
                "--users {} is more than the generator makes ({MAX_USERS} at most)",
                self.users
            )));
        }
        if !(0..=MAX_DAYS).contains(&self.days) {
            return Err(SizeError(format!(
                "--days {} is out of range (0 to {MAX_DAYS})",
                self.days
            )));
        }
        let user_days = self.users as u64 * self.days as u64;
        if user_days > MAX_USER_DAYS {
            return Err(SizeError(format!(
                "--users {} × --days {} = {user_days} user-days is more than the generator makes \
                 ({MAX_USER_DAYS} at most; all plays are generated in memory first)",
                self.users, self.days
            )));
        }
        if self.artists > MAX_ARTISTS || self.clusters > MAX_ARTISTS {
            return Err(SizeError(format!(
                "{} artists in {} clusters is more than the generator makes ({MAX_ARTISTS} at most)",
                self.artists, self.clusters
            )));
        }
        Ok(())
    }
}

/// One generated play (before it is written in some format).
#[derive(Clone, Debug)]
pub struct SynthPlay {
    pub user: usize,
    pub ts: i64,
    pub artist: usize,
    pub track: usize,
    pub ms_played: u64,
    pub duration_ms: u64,
    pub skipped: bool,
}

/// The generated world.
pub struct World {
    pub artist_names: Vec<String>,
    pub artist_of: Vec<usize>,
    pub album_names: Vec<String>,
    /// Album of each track.
    pub album_of: Vec<usize>,
    /// Position of each track on its album (0-based).
    pub track_no: Vec<usize>,
    /// Release day of each track (days since 1970), `i64::MIN` if before the window.
    pub release_day: Vec<i64>,
    pub track_names: Vec<String>,
    pub track_len_ms: Vec<u64>,
    pub plays: Vec<SynthPlay>,
    /// Users whose favourite taste cluster changes during the window.
    pub drifting_users: usize,
}

const SYL: [&str; 16] = [
    "ka", "lo", "mi", "ra", "ven", "tor", "sel", "ur", "by", "na", "qu", "est", "dor", "ia", "fen",
    "oh",
];

fn name(rng: &mut Rng, parts: usize) -> String {
    let mut s = String::new();
    for _ in 0..parts {
        s.push_str(SYL[rng.below(SYL.len())]);
    }
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => s,
    }
}

/// What a generated world looks like, measured on its plays (`World::stats`).
#[derive(Clone, Debug, PartialEq)]
pub struct SynthStats {
    /// Generated plays (skipped ones included).
    pub plays: usize,
    /// Share of plays that were skipped.
    pub skipped: f64,
    /// Share of non-skipped plays of a track the user had already played (not skipped).
    pub repeats: f64,
    /// Share of non-skipped plays on the user's own 10 most-played tracks (whole window).
    pub own_top10: f64,
    /// Share of non-skipped plays that follow the previous track of the same album in the
    /// same session (album-order runs).
    pub album_order: f64,
    /// Share of non-skipped plays of tracks released during the window.
    pub new_releases: f64,
    /// Users whose favourite cluster at the end differs from the one at the start.
    pub drifting_users: usize,
}

impl std::fmt::Display for SynthStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} plays: {:.0}% skipped; of the rest {:.0}% repeats, {:.0}% on the user's own top 10, \
             {:.0}% in album order, {:.0}% new releases; {} users drift to another taste cluster",
            self.plays,
            100.0 * self.skipped,
            100.0 * self.repeats,
            100.0 * self.own_top10,
            100.0 * self.album_order,
            100.0 * self.new_releases,
            self.drifting_users
        )
    }
}

impl World {
    /// Measures the structure the model is meant to have (repeats, album runs, …).
    pub fn stats(&self) -> SynthStats {
        let mut seen: std::collections::HashSet<(usize, usize)> = Default::default();
        let mut counts: std::collections::HashMap<(usize, usize), usize> = Default::default();
        let (mut kept, mut skipped, mut repeats, mut in_order, mut fresh) = (0, 0, 0, 0, 0);
        let mut prev: Option<&SynthPlay> = None;
        for p in &self.plays {
            if p.skipped {
                skipped += 1;
                continue;
            }
            kept += 1;
            if !seen.insert((p.user, p.track)) {
                repeats += 1;
            }
            *counts.entry((p.user, p.track)).or_default() += 1;
            if self.release_day[p.track] != i64::MIN {
                fresh += 1;
            }
            if let Some(q) = prev {
                if q.user == p.user
                    && p.ts - q.ts < 1800
                    && self.album_of[q.track] == self.album_of[p.track]
                    && self.track_no[q.track] + 1 == self.track_no[p.track]
                {
                    in_order += 1;
                }
            }
            prev = Some(p);
        }
        let users = self.plays.iter().map(|p| p.user + 1).max().unwrap_or(0);
        let mut per_user: Vec<Vec<usize>> = vec![Vec::new(); users];
        for (&(u, _), &c) in &counts {
            per_user[u].push(c);
        }
        let top10: usize = per_user
            .iter_mut()
            .map(|v| {
                v.sort_unstable_by(|a, b| b.cmp(a));
                v.iter().take(10).sum::<usize>()
            })
            .sum();
        let share = |x: usize| x as f64 / kept.max(1) as f64;
        SynthStats {
            plays: self.plays.len(),
            skipped: skipped as f64 / self.plays.len().max(1) as f64,
            repeats: share(repeats),
            own_top10: share(top10),
            album_order: share(in_order),
            new_releases: share(fresh),
            drifting_users: self.drifting_users,
        }
    }
}

/// How a session segment picks its tracks.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// The user's favourites (heavy rotation).
    Favourites,
    /// An album from a given track onwards, in order.
    Album { album: usize, next: usize },
    /// Artists of a taste cluster, with replays of recent history.
    Explore,
}

/// Run the generative model.
pub fn generate(cfg: &SynthConfig) -> World {
    let mut rng = Rng::new(cfg.seed);
    let g = cfg.clusters.max(1);
    let days = cfg.days.max(1);
    // Catalogue: artists → albums → tracks in album order.
    let mut artist_names = Vec::new();
    let mut artist_cluster = Vec::new();
    let mut artist_albums: Vec<Vec<usize>> = Vec::new();
    let mut album_tracks: Vec<Vec<usize>> = Vec::new();
    let mut album_names = Vec::new();
    let mut album_of = Vec::new();
    let mut track_no = Vec::new();
    let mut artist_of = Vec::new();
    let mut track_names = Vec::new();
    let mut track_len_ms = Vec::new();
    let mut release_day = Vec::new();
    let mut track_w = Vec::new();
    for a in 0..cfg.artists {
        artist_names.push(format!("{} {}", name(&mut rng, 2), name(&mut rng, 1)));
        artist_cluster.push(rng.below(g));
        let n_albums = 1 + rng.below(3);
        let mut albums = Vec::new();
        for _ in 0..n_albums {
            let al = album_tracks.len();
            album_names.push(format!("{} {}", name(&mut rng, 1), name(&mut rng, 2)));
            // 15% of albums come out during the window (new releases).
            let rel = if rng.next_f64() < 0.15 {
                cfg.start_day + rng.below(days as usize) as i64
            } else {
                i64::MIN
            };
            let single = rng.below(3);
            let n = 5 + rng.below(8);
            let mut ts = Vec::new();
            for k in 0..n {
                let t = track_names.len();
                track_names.push(format!("{} {}", name(&mut rng, 2), name(&mut rng, 2)));
                track_len_ms.push(150_000 + rng.below(150_000) as u64);
                artist_of.push(a);
                album_of.push(al);
                track_no.push(k);
                release_day.push(rel);
                track_w.push(if k == single { 3.0 } else { 1.0 } / (k as f64 + 1.0).sqrt());
                ts.push(t);
            }
            album_tracks.push(ts);
            albums.push(al);
        }
        artist_albums.push(albums);
    }
    let artist_w: Vec<f64> = (0..cfg.artists)
        .map(|r| 1.0 / (r as f64 + 1.0).powf(1.1))
        .collect();
    let by_cluster: Vec<Vec<usize>> = (0..g)
        .map(|c| {
            (0..cfg.artists)
                .filter(|&a| artist_cluster[a] == c)
                .collect()
        })
        .collect();
    // Artist hotness: slow random walk sampled weekly; an artist with a new album gets a
    // bump for the four weeks after it.
    let weeks = (days / 7 + 2) as usize;
    let mut hot: Vec<Vec<f64>> = (0..cfg.artists)
        .map(|_| {
            let mut h = 0.0;
            (0..weeks)
                .map(|_| {
                    h = 0.9 * h + 0.25 * rng.normal();
                    h
                })
                .collect()
        })
        .collect();
    for (a, albums) in artist_albums.iter().enumerate() {
        for &al in albums {
            let rel = release_day[album_tracks[al][0]];
            if rel != i64::MIN {
                let w0 = ((rel - cfg.start_day) / 7) as usize;
                for (k, h) in hot[a].iter_mut().enumerate().skip(w0).take(4) {
                    *h += 1.2 * (1.0 - 0.25 * (k - w0) as f64);
                }
            }
        }
    }
    // Cumulative artist weights per (cluster, week), built once.
    let pool_cum: Vec<Vec<Vec<f64>>> = by_cluster
        .iter()
        .map(|pool| {
            (0..weeks)
                .map(|wk| cumsum(pool.iter().map(|&a| artist_w[a] * hot[a][wk].exp())))
                .collect()
        })
        .collect();
    let released = |t: usize, day: i64| release_day[t] <= day;
    // A track of artist `a` available on `day`, by weight (new releases boosted for 30 days).
    let pick_track = |rng: &mut Rng, a: usize, day: i64| -> Option<usize> {
        let avail: Vec<usize> = artist_albums[a]
            .iter()
            .flat_map(|&al| album_tracks[al].iter().copied())
            .filter(|&t| released(t, day))
            .collect();
        if avail.is_empty() {
            return None;
        }
        let cum = cumsum(avail.iter().map(|&t| {
            let fresh = day.saturating_sub(release_day[t]);
            track_w[t] * if fresh < 30 { 4.0 } else { 1.0 }
        }));
        Some(avail[rng.pick(&cum)])
    };
    let weekday = [0.8, 0.85, 0.9, 0.95, 1.15, 1.35, 1.1];
    let hour_w: [f64; 24] = [
        0.3, 0.15, 0.05, 0.02, 0.02, 0.05, 0.3, 0.8, 1.0, 0.9, 0.8, 0.8, 1.0, 0.9, 0.8, 0.8, 1.0,
        1.3, 1.6, 1.8, 1.9, 1.7, 1.2, 0.7,
    ];
    let hour_cum = cumsum(hour_w.iter().copied());
    let mut plays = Vec::new();
    let mut drifting_users = 0;
    for u in 0..cfg.users {
        // Taste: a favourite and a second cluster; half the users drift towards another
        // favourite over the window (linear blend from `taste0` to `taste1`).
        let taste_vec = |fav: usize, second: usize| -> Vec<f64> {
            (0..g)
                .map(|c| {
                    if c == fav {
                        6.0
                    } else if c == second {
                        2.5
                    } else {
                        0.3
                    }
                })
                .collect()
        };
        let fav = rng.below(g);
        let second = rng.below(g);
        let taste0 = taste_vec(fav, second);
        let (fav1, drift_from, drift_to) = if rng.next_f64() < 0.5 {
            let f1 = rng.below(g);
            let a = rng.next_f64() * 0.6;
            (f1, a, a + 0.2 + rng.next_f64() * 0.2)
        } else {
            (fav, 2.0, 3.0)
        };
        if fav1 != fav {
            drifting_users += 1;
        }
        let taste1 = taste_vec(fav1, if fav1 == fav { second } else { fav });
        let activity = 1.1 * (0.4 * rng.normal()).exp();
        let trend = 0.6 * rng.normal();
        // A level shift in this user's activity for 30% of users (a new job, a new device).
        let (shift_day, shift) = if rng.next_f64() < 0.3 {
            (
                (days as f64 * (0.3 + 0.6 * rng.next_f64())) as i64,
                (0.8 * rng.normal()).exp().clamp(0.4, 2.5),
            )
        } else {
            (i64::MAX, 1.0)
        };
        let fav_rate = 0.35 + 0.3 * rng.next_f64();
        // Favourites: 12–40 tracks from the user's taste, heaviest first.
        let n_fav = 12 + rng.below(29);
        let taste_cum0 = cumsum(taste0.iter().copied());
        let mut favourites: Vec<usize> = Vec::new();
        for _ in 0..n_fav * 3 {
            if favourites.len() >= n_fav {
                break;
            }
            let c = rng.pick(&taste_cum0);
            let pool = &by_cluster[c];
            if pool.is_empty() {
                continue;
            }
            let a = pool[rng.pick(&pool_cum[c][0])];
            if let Some(t) = pick_track(&mut rng, a, cfg.start_day) {
                if !favourites.contains(&t) {
                    favourites.push(t);
                }
            }
        }
        let fav_cum = |n: usize| cumsum((0..n).map(|r| 1.0 / (r as f64 + 1.0).powf(0.8)));
        let mut history: Vec<usize> = Vec::new();
        let mut busy_until = i64::MIN;
        for d in 0..cfg.days {
            let day = cfg.start_day + d;
            let dow = (day + 3).rem_euclid(7) as usize; // 1970-01-01 was a Thursday
            let (_, m, dd) = time::civil_from_days(day);
            let doy = (m as f64 - 1.0) * 30.4 + dd as f64;
            let yearly = 1.0 + 0.2 * (std::f64::consts::TAU * (doy - 15.0) / 365.0).cos();
            let tr = (1.0 + trend * (d as f64 / days as f64 - 0.5)).max(0.2);
            let lvl = if d >= shift_day { shift } else { 1.0 };
            let n = rng.poisson(activity * weekday[dow] * yearly * tr * lvl);
            let mut starts: Vec<i64> = (0..n)
                .map(|_| day * 86400 + rng.pick(&hour_cum) as i64 * 3600 + rng.below(3600) as i64)
                .collect();
            starts.sort();
            let week = (d / 7) as usize;
            let x = d as f64 / days as f64;
            let blend = ((x - drift_from) / (drift_to - drift_from)).clamp(0.0, 1.0);
            let taste_cum = cumsum((0..g).map(|c| (1.0 - blend) * taste0[c] + blend * taste1[c]));
            for s in starts {
                let mut t = s.max(busy_until + 1800 + rng.below(3600) as i64);
                let cluster = rng.pick(&taste_cum);
                let pool = &by_cluster[cluster];
                if pool.is_empty() {
                    continue;
                }
                let pcum = &pool_cum[cluster][week.min(weeks - 1)];
                let len = 1 + (rng.next_f64().max(1e-9).ln() / (0.9f64).ln()) as usize;
                let mut artist = pool[rng.pick(pcum)];
                let mut mode = Mode::Explore;
                let mut left = 0usize;
                for _ in 0..len.min(40) {
                    if left == 0 {
                        // A new segment: favourites, an album in order, or exploring.
                        let y = rng.next_f64();
                        left = 1 + (rng.next_f64().max(1e-9).ln() / (0.75f64).ln()) as usize;
                        mode = if y < fav_rate && !favourites.is_empty() {
                            Mode::Favourites
                        } else if y < fav_rate + 0.2 {
                            // An album of a favourite's or a hot artist, from the start
                            // (mostly) or from a track the user knows.
                            let a = if rng.next_f64() < 0.6 && !favourites.is_empty() {
                                artist_of[favourites[rng.below(favourites.len())]]
                            } else {
                                pool[rng.pick(pcum)]
                            };
                            let albums: Vec<usize> = artist_albums[a]
                                .iter()
                                .copied()
                                .filter(|&al| released(album_tracks[al][0], day))
                                .collect();
                            if albums.is_empty() {
                                Mode::Explore
                            } else {
                                let album = albums[rng.below(albums.len())];
                                let next = if rng.next_f64() < 0.7 {
                                    0
                                } else {
                                    rng.below(album_tracks[album].len())
                                };
                                left = album_tracks[album].len() - next;
                                Mode::Album { album, next }
                            }
                        } else {
                            Mode::Explore
                        };
                    }
                    left -= 1;
                    let (track, skip_p) = match mode {
                        Mode::Favourites => {
                            (favourites[rng.pick(&fav_cum(favourites.len()))], 0.04)
                        }
                        Mode::Album { album, next } => {
                            let tr = album_tracks[album][next];
                            if next + 1 < album_tracks[album].len() {
                                mode = Mode::Album {
                                    album,
                                    next: next + 1,
                                };
                            } else {
                                left = 0;
                            }
                            (tr, 0.08)
                        }
                        Mode::Explore => {
                            let x = rng.next_f64();
                            if x < 0.3 && !history.is_empty() {
                                // A replay from recent history.
                                let k = history.len().min(200);
                                (history[history.len() - 1 - rng.below(k)], 0.1)
                            } else {
                                if x >= 0.65 {
                                    artist = pool[rng.pick(pcum)];
                                }
                                match pick_track(&mut rng, artist, day) {
                                    Some(t) => (t, 0.2),
                                    None => continue,
                                }
                            }
                        }
                    };
                    let dur = track_len_ms[track];
                    let skipped = rng.next_f64() < skip_p;
                    let ms = if skipped {
                        2000 + rng.below(23_000) as u64
                    } else {
                        dur
                    };
                    plays.push(SynthPlay {
                        user: u,
                        ts: t,
                        artist: artist_of[track],
                        track,
                        ms_played: ms,
                        duration_ms: dur,
                        skipped,
                    });
                    if !skipped {
                        history.push(track);
                        // Favourites drift: a liked new track (more often a new release)
                        // enters the rotation, the least favourite leaves it.
                        let fresh = day.saturating_sub(release_day[track]) < 30;
                        let p_promote = if fresh { 0.08 } else { 0.015 };
                        if mode == Mode::Explore
                            && !favourites.contains(&track)
                            && rng.next_f64() < p_promote
                        {
                            let at = rng.below(favourites.len() / 2 + 1);
                            favourites.insert(at, track);
                            if favourites.len() > n_fav {
                                favourites.pop();
                            }
                        }
                    }
                    t += (ms / 1000) as i64 + 1 + rng.below(4) as i64;
                }
                busy_until = t;
            }
        }
    }
    World {
        artist_names,
        artist_of,
        album_names,
        album_of,
        track_no,
        release_day,
        track_names,
        track_len_ms,
        plays,
        drifting_users,
    }
}

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
    // Daily streams of the most played artist, scaled like a dashboard export.
    let mut counts = vec![0usize; w.artist_names.len()];
    for p in &w.plays {
        counts[p.artist] += 1;
    }
    if let Some(top) = (0..counts.len()).max_by_key(|&a| counts[a]) {
        let mut daily = vec![0f64; cfg.days.max(0) as usize];
        for p in w.plays.iter().filter(|p| p.artist == top && !p.skipped) {
            let d = p.ts.div_euclid(86400) - cfg.start_day;
            if (0..cfg.days).contains(&d) {
                daily[d as usize] += 1.0;
            }
        }
        // The dashboard's own structure on top of the listeners': a level shift (a playlist
        // placement won or lost) and promotional spikes decaying over a few days.
        let mut rng = Rng::new(cfg.seed ^ 0xDA11);
        let n = daily.len();
        let shift_at = (n as f64 * (0.45 + 0.3 * rng.next_f64())) as usize;
        let shift = if rng.next_f64() < 0.6 {
            1.3 + 0.4 * rng.next_f64()
        } else {
            0.6 + 0.2 * rng.next_f64()
        };
        let mut promo = vec![1.0f64; n];
        for _ in 0..(n / 45).max(1) {
            let at = rng.below(n.max(1));
            let height = 1.5 + 2.0 * rng.next_f64();
            for (k, x) in promo.iter_mut().enumerate().skip(at).take(4) {
                *x += height * 0.45f64.powi((k - at) as i32);
            }
        }
        let mut s = String::from("date,streams\n");
        for (d, v) in daily.iter().enumerate() {
            let level = if d >= shift_at { shift } else { 1.0 };
            let x = ((v * 40.0 + 200.0 * (1.0 + 0.1 * rng.normal())) * level * promo[d])
                .round()
                .max(0.0);
            let _ = writeln!(s, "{},{}", time::date_string(cfg.start_day + d as i64), x);
        }
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

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn sizes_are_checked_before_anything_is_generated() {
        let ok = SynthConfig::default();
        assert!(ok.check().is_ok());
        for bad in [
            SynthConfig {
                users: 100_000_000,
                ..ok.clone()
            },
            SynthConfig {
                days: -1,
                ..ok.clone()
            },
            SynthConfig {
                users: MAX_USERS,
                days: MAX_DAYS,
                ..ok.clone()
            },
            SynthConfig {
                artists: usize::MAX,
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
            let d = tempfile::tempdir().unwrap();
            let e = write(&bad, &d.path().join("out")).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(!d.path().join("out").exists());
        }
    }
}
