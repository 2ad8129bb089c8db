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
//! - [`generate_with`] (off by default, [`Continuations`]): at a given time, clone each user's
//!   whole state and run K continuations of the rest of the window with their own RNGs (the
//!   main stream is untouched, the world identical): the users' [`Expected`] plays per track,
//!   the Bayes bound of `examples/recommend_bound.rs` (issue #20).
//! - **Formats**: user i writes by `i % 5`: Spotify extended JSON (+ podcast episodes; user 0
//!   also gets an overlapping account-data export, to exercise dedupe), ListenBrainz zip,
//!   Last.fm CSV, `.scrobbler.log`, or rows of a shared Last.fm-1K TSV. Plus a daily streams
//!   CSV for the top artist and a weft session log.
//!
//! Files: this one holds the configuration, the generated [`World`] and its [`World::stats`];
//! `plays.rs` runs the generative model of listening ([`generate`]: a shared catalogue and
//! one cloneable state per user, run day by day), `streams.rs` makes the
//! daily streams CSV from the plays, `export.rs` writes everything in the real formats
//! ([`write`]).

use super::time;

mod export;
mod plays;
mod streams;

pub use export::write;
pub use plays::{generate, generate_with, Continuations, Expected};

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
