//! "Sounds like", live: ranks a library of saved sounds by cosine similarity to what weft
//! is playing now.
//!
//! The library is every `.wav` file in the given folders (the `samples/` folder, the
//! recordings folder) profiled at default frame settings, plus the session profiles
//! (`*.profile.json`) that this worker writes next to each recording when it finishes, so
//! saved sessions can be found by how they sounded. A file that cannot be read is reported
//! by name and left out; the rest still loads.
//!
//! The worker thread receives every analyzer frame (best effort, through the analyzer's
//! monitor channel), keeps the last [`WINDOW_S`] seconds, and every [`EVERY_S`] seconds
//! builds a [`Profile`] of that window and sends the [`TOP`] nearest library entries.
//! Nothing here runs on the audio or scheduler threads.

use super::profile::{cosine, Profile, PROFILE_LEN};
use super::Features;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Seconds of recent frames the "now" profile covers.
pub const WINDOW_S: f64 = 10.0;
/// Seconds between rankings.
pub const EVERY_S: f64 = 1.0;
/// Entries in each ranking.
pub const TOP: usize = 3;
/// Frames kept for a session profile (about 20 minutes at 86 frames/s); a longer
/// recording is profiled over its first 20 minutes.
pub const MAX_SESSION_FRAMES: usize = 20 * 60 * 86;
/// Seconds of frames needed before the first ranking.
const MIN_WINDOW_S: f64 = 2.0;

/// Extension of the session profiles written next to recordings.
pub const PROFILE_EXT: &str = "profile.json";

/// Profiles of saved sounds.
#[derive(Debug, Clone, Default)]
pub struct Library {
    /// Display name and profile vector.
    pub entries: Vec<(String, [f32; PROFILE_LEN])>,
    /// One line per file that could not be used, naming it.
    pub errors: Vec<String>,
}

/// The JSON of a session profile.
#[derive(serde::Serialize, serde::Deserialize)]
struct SessionProfile {
    name: String,
    duration_s: f64,
    vector: Vec<f32>,
}

impl Library {
    /// Profiles the `.wav` files and reads the session profiles in `dirs` (missing folders
    /// are skipped), sorted by name.
    pub fn load(dirs: &[PathBuf]) -> Library {
        let mut lib = Library::default();
        // One thread: this runs while the music plays. The profiles' own parallel steps
        // (tempo refreshes) then run on this pool's one thread, not on every core.
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().ok();
        for dir in dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for p in paths {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if name.ends_with(&format!(".{PROFILE_EXT}")) {
                    match read_session_profile(&p) {
                        Ok((n, v)) => lib.entries.push((n, v)),
                        Err(e) => lib.errors.push(e),
                    }
                } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
                    // Streamed from the file run by run, so a long recording is never in
                    // memory whole.
                    let profile =
                        || super::analyze_file_with(&p, super::DEFAULT_FFT, super::DEFAULT_HOP, 1);
                    let prof = match &one {
                        Some(pool) => pool.install(profile),
                        None => profile(),
                    };
                    match prof {
                        Ok((_, a)) => lib
                            .entries
                            .push((name, Profile::from_frames(&a.frames).vector)),
                        Err(e) => lib.errors.push(e.to_string()),
                    }
                }
            }
        }
        lib
    }

    /// The `n` entries most similar to `vector`, most similar first (ties by name).
    pub fn nearest(&self, vector: &[f32; PROFILE_LEN], n: usize) -> Vec<(String, f32)> {
        let mut ranked: Vec<(String, f32)> = self
            .entries
            .iter()
            .map(|(name, v)| (name.clone(), cosine(vector, v)))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        ranked.truncate(n);
        ranked
    }
}

fn read_session_profile(path: &Path) -> Result<(String, [f32; PROFILE_LEN]), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let p: SessionProfile = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a session profile: {e}", path.display()))?;
    let v: [f32; PROFILE_LEN] = p.vector.as_slice().try_into().map_err(|_| {
        format!(
            "{}: profile has {} values, expected {PROFILE_LEN}",
            path.display(),
            p.vector.len()
        )
    })?;
    Ok((p.name, v))
}

/// Writes the profile of a recorded session next to `recording` (`NAME.profile.json`) and
/// returns its path.
pub fn write_session_profile(
    recording: &Path,
    frames: &[Features],
) -> std::io::Result<(PathBuf, [f32; PROFILE_LEN])> {
    let prof = Profile::from_frames(frames);
    let name = recording
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = recording.with_extension(PROFILE_EXT);
    let json = SessionProfile {
        name,
        duration_s: prof.summary.duration,
        vector: prof.vector.to_vec(),
    };
    let text = serde_json::to_string_pretty(&json).map_err(std::io::Error::other)?;
    std::fs::write(&path, text)?;
    Ok((path, prof.vector))
}

/// Everything the worker is told, in one ordered stream: the analyzer's frames (through its
/// monitor, best effort) and the screen's news about recordings. Because they share one
/// channel, a recording's session profile covers exactly the frames that arrived between its
/// `RecordingStarted` and its `RecordingFinished`.
// Frames are nearly every message: boxing them would allocate once per frame on the
// analyzer thread, whose loop does not allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Input {
    Frame(Features),
    RecordingStarted,
    RecordingFinished(PathBuf),
    /// Finish what is queued before it (a session profile to write) and stop.
    Shutdown,
}

/// What the worker reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The library finished loading: entries, and one line per file left out.
    Loaded { entries: usize, errors: Vec<String> },
    /// The nearest entries to the last [`WINDOW_S`] seconds.
    Ranking(Vec<(String, f32)>),
    /// A session profile was written (or could not be).
    SessionSaved(Result<PathBuf, String>),
}

/// Starts the worker: loads the library from `dirs` on a helper thread (frames and
/// recordings are handled from the start, rankings begin once it has loaded), then handles
/// what arrives on `input`, in order, until [`Input::Shutdown`], until every sender of
/// `input` is gone, or until `out` is dropped.
pub fn spawn(
    input: Receiver<Input>,
    dirs: Vec<PathBuf>,
    out: Sender<Update>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("weft-likeness".into())
        .spawn(move || run(input, &dirs, out))
}

fn run(input: Receiver<Input>, dirs: &[PathBuf], out: Sender<Update>) {
    let (lib_tx, lib_rx) = std::sync::mpsc::channel();
    let dirs = dirs.to_vec();
    let loader = std::thread::Builder::new()
        .name("weft-likeness-load".into())
        .spawn(move || {
            let _ = lib_tx.send(Library::load(&dirs));
        });
    if loader.is_err() {
        let _ = out.send(Update::Loaded {
            entries: 0,
            errors: vec!["cannot start the library loader thread".into()],
        });
    }
    // Session profiles saved before the library arrives are kept in it.
    let mut lib = Library::default();
    let mut loaded = false;
    let mut window: VecDeque<Features> = VecDeque::new();
    let mut session: Option<Vec<Features>> = None;
    let mut last_rank = Instant::now();
    // The library loader is not joined: it only reads files, its result is dropped when the
    // worker has gone, and waiting for it could hold up quitting while it profiles long WAVs.
    loop {
        if !loaded {
            if let Ok(mut l) = lib_rx.try_recv() {
                loaded = true;
                let msg = Update::Loaded {
                    entries: l.entries.len(),
                    errors: l.errors.clone(),
                };
                l.entries.append(&mut lib.entries);
                lib = l;
                if out.send(msg).is_err() {
                    return;
                }
            }
        }
        let first = match input.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut closed = false;
        for m in first.into_iter().chain(input.try_iter()) {
            match m {
                Input::Frame(f) => take_frame(f, &mut window, &mut session),
                Input::RecordingStarted => session = Some(Vec::new()),
                Input::RecordingFinished(path) => {
                    let frames = session.take().unwrap_or_default();
                    let saved = save_session(&mut lib, &path, &frames);
                    if out.send(Update::SessionSaved(saved)).is_err() {
                        closed = true;
                    }
                }
                Input::Shutdown => closed = true,
            }
            if closed {
                break;
            }
        }
        if closed {
            return;
        }
        if last_rank.elapsed().as_secs_f64() >= EVERY_S {
            last_rank = Instant::now();
            let span = match (window.front(), window.back()) {
                (Some(a), Some(b)) => b.time - a.time,
                _ => 0.0,
            };
            if span >= MIN_WINDOW_S && !lib.entries.is_empty() {
                let (a, b) = window.as_slices();
                let frames: Vec<Features> = a.iter().chain(b).copied().collect();
                let now = Profile::from_frames(&frames);
                if out
                    .send(Update::Ranking(lib.nearest(&now.vector, TOP)))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Adds an analysis frame to the ranking window (the last [`WINDOW_S`] seconds) and to the
/// session being recorded, if any.
fn take_frame(f: Features, window: &mut VecDeque<Features>, session: &mut Option<Vec<Features>>) {
    if let Some(s) = session {
        if s.len() < MAX_SESSION_FRAMES {
            s.push(f);
        }
    }
    window.push_back(f);
    while window
        .front()
        .is_some_and(|old| f.time - old.time > WINDOW_S || old.time > f.time)
    {
        window.pop_front();
    }
}

/// Writes the session profile of `frames` next to `path` and adds it to the library.
fn save_session(lib: &mut Library, path: &Path, frames: &[Features]) -> Result<PathBuf, String> {
    if frames.is_empty() {
        return Err(format!("{}: no analysis frames to profile", path.display()));
    }
    let (p, v) =
        write_session_profile(path, frames).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    lib.entries.retain(|(n, _)| *n != name);
    lib.entries.push((name, v));
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(centroid: f32, secs: f64) -> Vec<Features> {
        let n = (secs * 86.0) as usize;
        (0..n)
            .map(|i| Features {
                frame: i as u64,
                time: i as f64 / 86.0,
                rms: 0.2,
                centroid,
                bandwidth: centroid / 2.0,
                rolloff: centroid * 1.5,
                flatness: 0.1,
                chroma: [0.5; 12],
                ..Default::default()
            })
            .collect()
    }

    #[test]
    fn nearest_ranks_by_cosine_and_names_ties() {
        let lib = Library {
            entries: vec![
                (
                    "bright".into(),
                    Profile::from_frames(&frames(6000.0, 3.0)).vector,
                ),
                (
                    "dark".into(),
                    Profile::from_frames(&frames(300.0, 3.0)).vector,
                ),
            ],
            errors: vec![],
        };
        let now = Profile::from_frames(&frames(5500.0, 3.0)).vector;
        let r = lib.nearest(&now, 3);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].0, "bright");
        assert!(r[0].1 > r[1].1);
    }

    #[test]
    fn session_profiles_round_trip_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("set.mid");
        let (path, v) = write_session_profile(&rec, &frames(1000.0, 4.0)).unwrap();
        assert_eq!(path, dir.path().join("set.profile.json"));
        std::fs::write(dir.path().join("junk.profile.json"), "{ not json").unwrap();
        std::fs::write(dir.path().join("cut.wav"), b"RIFF").unwrap();
        let lib = Library::load(&[dir.path().to_path_buf(), dir.path().join("missing")]);
        assert_eq!(lib.entries, vec![("set.mid".to_string(), v)]);
        assert_eq!(lib.errors.len(), 2, "{:?}", lib.errors);
        assert!(lib.errors.iter().any(|e| e.contains("junk.profile.json")));
        assert!(lib.errors.iter().any(|e| e.contains("cut.wav")));
    }

    #[test]
    fn worker_ranks_the_last_seconds_and_saves_sessions() {
        use std::sync::mpsc::channel;
        let dir = tempfile::tempdir().unwrap();
        // Library: one earlier session that was bright.
        write_session_profile(&dir.path().join("old.mid"), &frames(6000.0, 4.0)).unwrap();
        let (tx, rx) = channel();
        let (utx, urx) = channel();
        let h = spawn(rx, vec![dir.path().to_path_buf()], utx).unwrap();
        let first = urx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(
            first,
            Update::Loaded {
                entries: 1,
                errors: vec![]
            }
        );
        tx.send(Input::RecordingStarted).unwrap();
        for f in frames(5000.0, 3.0) {
            tx.send(Input::Frame(f)).unwrap();
        }
        let Update::Ranking(rank) = urx.recv_timeout(Duration::from_secs(10)).unwrap() else {
            panic!("expected a ranking");
        };
        assert_eq!(rank[0].0, "old.mid");
        tx.send(Input::RecordingFinished(dir.path().join("new.mid")))
            .unwrap();
        let saved = loop {
            match urx.recv_timeout(Duration::from_secs(10)).unwrap() {
                Update::SessionSaved(s) => break s,
                Update::Ranking(_) => continue,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(saved, Ok(dir.path().join("new.profile.json")));
        // A recording that finishes right before quitting is still profiled: what is queued
        // before `Shutdown` is handled first.
        tx.send(Input::RecordingStarted).unwrap();
        for f in frames(800.0, 1.0) {
            tx.send(Input::Frame(f)).unwrap();
        }
        tx.send(Input::RecordingFinished(dir.path().join("last.mid")))
            .unwrap();
        tx.send(Input::Shutdown).unwrap();
        h.join().unwrap();
        assert!(dir.path().join("last.profile.json").is_file());
        assert_eq!(Library::load(&[dir.path().to_path_buf()]).entries.len(), 3);
    }

    #[test]
    fn a_session_profile_covers_exactly_the_frames_between_start_and_finish() {
        use std::sync::mpsc::channel;
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = channel();
        let (utx, _urx) = channel();
        let h = spawn(rx, vec![dir.path().to_path_buf()], utx).unwrap();
        // Bright frames before the recording, dark ones during it, bright ones after: sent
        // back to back, so only the order of the one stream can tell them apart.
        let during = frames(300.0, 1.0);
        for f in frames(6000.0, 1.0) {
            tx.send(Input::Frame(f)).unwrap();
        }
        tx.send(Input::RecordingStarted).unwrap();
        for f in &during {
            tx.send(Input::Frame(*f)).unwrap();
        }
        tx.send(Input::RecordingFinished(dir.path().join("take.mid")))
            .unwrap();
        for f in frames(6000.0, 1.0) {
            tx.send(Input::Frame(f)).unwrap();
        }
        tx.send(Input::Shutdown).unwrap();
        h.join().unwrap();
        let (_, saved) = read_session_profile(&dir.path().join("take.profile.json")).unwrap();
        assert_eq!(saved, Profile::from_frames(&during).vector);
    }
}
