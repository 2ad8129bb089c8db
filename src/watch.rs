//! Watching the scripts folder: notify (inotify) events → debounced file changes.
//!
//! The directory is watched, not the files (an atomic save replaces the inode, and a
//! watch on the file would die after the first save). Raw events are grouped per path:
//! a "save finished" signal (close-after-write, or a rename onto the path) settles after
//! [`SETTLE`]; bare data writes without a close settle after [`QUIET`] of silence. The
//! path's state on disk then decides what happened: it exists with non-empty content →
//! `Changed`, it is gone → `Removed`. A rename of one patch file to another is reported
//! as `Renamed` so the patch keeps its state. Editor temp, swap and backup files never
//! match (`*.rhai` only, no leading `.`), and content identical to the last report is
//! dropped, so read-only access never triggers a reload.

use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Settle time after a definitive "save finished" event.
pub const SETTLE: Duration = Duration::from_millis(3);
/// Quiet time after bare data writes (writers that never close, or truncate-then-write).
pub const QUIET: Duration = Duration::from_millis(40);

#[derive(Debug, Error)]
pub enum WatchError {
    #[error("cannot watch {path}: {error}")]
    Notify { path: String, error: notify::Error },
}

/// A settled change to a patch file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    /// Created or saved; `first_event` is when the first raw event of this save arrived.
    Changed {
        path: PathBuf,
        source: String,
        first_event: Instant,
    },
    Removed {
        path: PathBuf,
    },
    Renamed {
        from: PathBuf,
        to: PathBuf,
    },
}

/// True for files weft plays: `*.rhai`, not hidden, not an editor backup/swap/lock file.
pub fn is_patch_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".rhai") && !name.starts_with('.') && !name.starts_with('#') && name.len() > 5
}

/// The patch files in `dir`, sorted by name.
pub fn scan(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_patch_file(p))
        .collect();
    files.sort();
    Ok(files)
}

struct PendingPath {
    first: Instant,
    last: Instant,
    definitive: bool,
}

/// A running watcher; changes arrive on `changes`. Stops when dropped.
pub struct DirWatcher {
    _watcher: RecommendedWatcher,
    pub changes: Receiver<FileChange>,
}

impl DirWatcher {
    /// Splits into the watcher (keep it alive) and the change receiver (move it to a worker).
    pub fn into_parts(self) -> (RecommendedWatcher, Receiver<FileChange>) {
        (self._watcher, self.changes)
    }

    /// Starts watching `dir` (non-recursive).
    pub fn start(dir: &Path) -> Result<DirWatcher, WatchError> {
        let (raw_tx, raw_rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher =
            notify::recommended_watcher(raw_tx).map_err(|error| WatchError::Notify {
                path: dir.display().to_string(),
                error,
            })?;
        watcher
            .watch(dir, RecursiveMode::NonRecursive)
            .map_err(|error| WatchError::Notify {
                path: dir.display().to_string(),
                error,
            })?;
        let (tx, rx) = mpsc::channel();
        let known: HashMap<PathBuf, u64> = scan(dir)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| std::fs::read_to_string(&p).ok().map(|s| (p, hash(&s))))
            .collect();
        thread::Builder::new()
            .name("weft-watch".into())
            .spawn(move || debounce_loop(raw_rx, tx, known))
            .expect("spawn watcher thread");
        Ok(DirWatcher {
            _watcher: watcher,
            changes: rx,
        })
    }
}

fn hash(s: &str) -> u64 {
    crate::patch::fnv1a(&[s.as_bytes()])
}

fn debounce_loop(
    raw: Receiver<notify::Result<notify::Event>>,
    out: Sender<FileChange>,
    mut known: HashMap<PathBuf, u64>,
) {
    let mut pending: HashMap<PathBuf, PendingPath> = HashMap::new();
    loop {
        // Wait for the next event, or until the earliest pending path settles.
        let now = Instant::now();
        let next_due = pending
            .values()
            .map(|p| p.last + if p.definitive { SETTLE } else { QUIET })
            .min();
        let timeout = next_due.map_or(Duration::from_secs(3600), |d| {
            d.saturating_duration_since(now)
        });
        match raw.recv_timeout(timeout) {
            Ok(Ok(ev)) => {
                let now = Instant::now();
                let definitive = matches!(
                    ev.kind,
                    EventKind::Access(AccessKind::Close(AccessMode::Write))
                        | EventKind::Modify(ModifyKind::Name(_))
                        | EventKind::Remove(_)
                );
                // A rename between two patch files keeps the patch (and its state).
                if let EventKind::Modify(ModifyKind::Name(RenameMode::Both)) = ev.kind {
                    if ev.paths.len() == 2
                        && is_patch_file(&ev.paths[0])
                        && is_patch_file(&ev.paths[1])
                    {
                        let (from, to) = (ev.paths[0].clone(), ev.paths[1].clone());
                        pending.remove(&from);
                        if let Some(h) = known.remove(&from) {
                            known.insert(to.clone(), h);
                            if out.send(FileChange::Renamed { from, to }).is_err() {
                                return;
                            }
                            continue;
                        }
                    }
                }
                let relevant = matches!(
                    ev.kind,
                    EventKind::Create(_)
                        | EventKind::Modify(_)
                        | EventKind::Remove(_)
                        | EventKind::Access(AccessKind::Close(AccessMode::Write))
                );
                if !relevant {
                    continue;
                }
                for p in ev.paths.iter().filter(|p| is_patch_file(p)) {
                    let e = pending.entry(p.clone()).or_insert(PendingPath {
                        first: now,
                        last: now,
                        definitive: false,
                    });
                    e.last = now;
                    e.definitive |= definitive;
                    // A later bare write after a close means the writer is still going.
                    if !definitive && matches!(ev.kind, EventKind::Modify(ModifyKind::Data(_))) {
                        e.definitive = false;
                    }
                }
            }
            Ok(Err(_)) => continue,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        let due: Vec<PathBuf> = pending
            .iter()
            .filter(|(_, p)| now >= p.last + if p.definitive { SETTLE } else { QUIET })
            .map(|(k, _)| k.clone())
            .collect();
        for path in due {
            let p = pending.remove(&path).expect("due path is pending");
            let change = match std::fs::read_to_string(&path) {
                Ok(src) if src.trim().is_empty() => continue, // truncated, content still coming
                Ok(src) => {
                    let h = hash(&src);
                    if known.get(&path) == Some(&h) {
                        continue;
                    }
                    known.insert(path.clone(), h);
                    FileChange::Changed {
                        path,
                        source: src,
                        first_event: p.first,
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if known.remove(&path).is_none() {
                        continue;
                    }
                    FileChange::Removed { path }
                }
                Err(_) => continue,
            };
            if out.send(change).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_file_filter() {
        for ok in ["groove.rhai", "a.rhai", "/x/y/bass-2.rhai"] {
            assert!(is_patch_file(Path::new(ok)), "{ok}");
        }
        for no in [
            ".groove.rhai.swp",
            "groove.rhai~",
            "4913",
            ".#groove.rhai",
            "#groove.rhai#",
            "groove.rhai.tmp",
            ".rhai",
            "groove.rhai.bak",
            "groove.txt",
        ] {
            assert!(!is_patch_file(Path::new(no)), "{no}");
        }
    }
}
