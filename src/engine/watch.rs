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
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};
use thiserror::Error;

/// Settle time after a definitive "save finished" event.
pub const SETTLE: Duration = Duration::from_millis(3);
/// Quiet time after bare data writes (writers that never close, or truncate-then-write).
pub const QUIET: Duration = Duration::from_millis(40);
/// While the folder is gone, how often the watcher looks whether it is back.
pub const FOLDER_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Error)]
pub enum WatchError {
    #[error("cannot watch {path}: {error}")]
    Notify { path: String, error: notify::Error },
    #[error("cannot watch {path}: {error}")]
    Folder { path: String, error: std::io::Error },
}

/// A settled change to a patch file, or to the watched folder itself.
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
    /// The folder was moved away or deleted; nothing in it is reported until it is back
    /// (what was loaded keeps playing).
    FolderGone {
        dir: PathBuf,
    },
    /// A folder is at the watched path again and is watched; its patch files whose content
    /// differs from the last one reported follow as `Changed`.
    FolderBack {
        dir: PathBuf,
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

/// The folder a patch folder argument names, absolute and without symlinks: the one name
/// both the startup scan and the watcher's events use for each file in it.
pub fn canonical_dir(dir: &Path) -> Result<PathBuf, WatchError> {
    dir.canonicalize().map_err(|error| WatchError::Folder {
        path: dir.display().to_string(),
        error,
    })
}

/// Which folder is at `dir` now (device and inode), or None if no folder is there.
fn folder_id(dir: &Path) -> Option<(u64, u64)> {
    let m = std::fs::metadata(dir).ok().filter(|m| m.is_dir())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = m;
        Some((0, 0))
    }
}

struct PendingPath {
    first: Instant,
    last: Instant,
    definitive: bool,
}

/// Keeps the notify watcher alive. Dropping it stops watching: the notify watcher goes, its
/// event stream closes, and the debounce thread ends; the drop waits for that thread (so
/// whoever owns the guard knows every thread it started has ended).
pub struct WatchGuard {
    watcher: Option<Arc<Mutex<RecommendedWatcher>>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        // The debounce thread holds only a weak reference: this is the last strong one.
        drop(self.watcher.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A running watcher; changes arrive on `changes`. Stops when dropped.
pub struct DirWatcher {
    guard: WatchGuard,
    dir: PathBuf,
    pub changes: Receiver<FileChange>,
}

impl DirWatcher {
    /// Splits into the watcher (keep it alive) and the change receiver (move it to a worker).
    pub fn into_parts(self) -> (WatchGuard, Receiver<FileChange>) {
        (self.guard, self.changes)
    }

    /// The watched folder, canonical: every path in a [`FileChange`] is inside it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Starts watching `dir` (non-recursive). Paths in the changes are canonical
    /// ([`canonical_dir`]) whatever form `dir` has (relative, through a symlink).
    pub fn start(dir: &Path) -> Result<DirWatcher, WatchError> {
        let dir = canonical_dir(dir)?;
        let notify_err = |error| WatchError::Notify {
            path: dir.display().to_string(),
            error,
        };
        let (raw_tx, raw_rx) = mpsc::channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(raw_tx).map_err(notify_err)?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(notify_err)?;
        let folder = folder_id(&dir);
        let watcher = Arc::new(Mutex::new(watcher));
        let (tx, rx) = mpsc::channel();
        let known: HashMap<PathBuf, u64> = scan(&dir)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| std::fs::read_to_string(&p).ok().map(|s| (p, hash(&s))))
            .collect();
        let mut state = Debounce {
            dir: dir.clone(),
            watcher: Arc::downgrade(&watcher),
            folder,
            known,
            pending: HashMap::new(),
            out: tx,
        };
        let thread = thread::Builder::new()
            .name("weft-watch".into())
            .spawn(move || state.run(raw_rx))
            .expect("spawn watcher thread");
        Ok(DirWatcher {
            guard: WatchGuard {
                watcher: Some(watcher),
                thread: Some(thread),
            },
            dir,
            changes: rx,
        })
    }
}

fn hash(s: &str) -> u64 {
    crate::patch::fnv1a(&[s.as_bytes()])
}

/// The watcher thread's state: raw events → settled changes.
struct Debounce {
    /// The watched folder (canonical).
    dir: PathBuf,
    /// Weak, so that dropping the [`WatchGuard`] ends the notify thread and with it this one.
    watcher: Weak<Mutex<RecommendedWatcher>>,
    /// The folder being watched (device, inode); None while it is gone.
    folder: Option<(u64, u64)>,
    /// Content hash of each patch file as last reported.
    known: HashMap<PathBuf, u64>,
    pending: HashMap<PathBuf, PendingPath>,
    out: Sender<FileChange>,
}

impl Debounce {
    fn run(&mut self, raw: Receiver<notify::Result<notify::Event>>) {
        loop {
            // Wait for the next event, or until the earliest pending path settles (or, while
            // the folder is gone, until it is time to look for it again).
            let now = Instant::now();
            let next_due = self
                .pending
                .values()
                .map(|p| p.last + if p.definitive { SETTLE } else { QUIET })
                .min();
            let mut timeout = next_due.map_or(Duration::from_secs(3600), |d| {
                d.saturating_duration_since(now)
            });
            if self.folder.is_none() {
                timeout = timeout.min(FOLDER_POLL);
            }
            match raw.recv_timeout(timeout) {
                Ok(Ok(ev)) => {
                    if ev.paths.iter().any(|p| p == &self.dir) && !self.check_folder() {
                        return;
                    }
                    if self.folder.is_some() && !self.event(ev) {
                        return;
                    }
                }
                Ok(Err(_)) => continue,
                Err(RecvTimeoutError::Timeout) => {
                    if self.folder.is_none() && !self.check_folder() {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if !self.settle() {
                return;
            }
        }
    }

    /// One raw event for a path in the folder. False when nobody listens any more.
    fn event(&mut self, ev: notify::Event) -> bool {
        let now = Instant::now();
        let definitive = matches!(
            ev.kind,
            EventKind::Access(AccessKind::Close(AccessMode::Write))
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Remove(_)
        );
        let in_dir = |p: &PathBuf| p.parent() == Some(self.dir.as_path()) && is_patch_file(p);
        // A rename between two patch files keeps the patch (and its state).
        if let EventKind::Modify(ModifyKind::Name(RenameMode::Both)) = ev.kind {
            if ev.paths.len() == 2 && in_dir(&ev.paths[0]) && in_dir(&ev.paths[1]) {
                let (from, to) = (ev.paths[0].clone(), ev.paths[1].clone());
                self.pending.remove(&from);
                if let Some(h) = self.known.remove(&from) {
                    self.known.insert(to.clone(), h);
                    return self.out.send(FileChange::Renamed { from, to }).is_ok();
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
            return true;
        }
        for p in ev.paths.iter().filter(|p| in_dir(p)) {
            let e = self.pending.entry(p.clone()).or_insert(PendingPath {
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
        true
    }

    /// Reports the pending paths that have settled. False when nobody listens any more.
    fn settle(&mut self) -> bool {
        let now = Instant::now();
        let due: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, p)| now >= p.last + if p.definitive { SETTLE } else { QUIET })
            .map(|(k, _)| k.clone())
            .collect();
        for path in due {
            let p = self.pending.remove(&path).expect("due path is pending");
            let change = match std::fs::read_to_string(&path) {
                Ok(src) => match self.changed(path, src, p.first) {
                    Some(c) => c,
                    None => continue,
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if self.known.remove(&path).is_none() {
                        continue;
                    }
                    FileChange::Removed { path }
                }
                Err(_) => continue,
            };
            if self.out.send(change).is_err() {
                return false;
            }
        }
        true
    }

    /// `Changed` for content that is new for this path, None for empty or known content.
    fn changed(&mut self, path: PathBuf, src: String, first_event: Instant) -> Option<FileChange> {
        if src.trim().is_empty() {
            return None; // truncated, content still coming
        }
        let h = hash(&src);
        if self.known.get(&path) == Some(&h) {
            return None;
        }
        self.known.insert(path.clone(), h);
        Some(FileChange::Changed {
            path,
            source: src,
            first_event,
        })
    }

    /// Looks at what is at the folder's path now. The folder moved away or deleted →
    /// `FolderGone` (its watch is dropped: a watch follows the inode, so a moved-away folder
    /// would go on reporting edits made elsewhere under this path). A folder there again →
    /// watched again, `FolderBack`, then `Changed` for each patch file whose content differs
    /// from the last reported (files missing from it keep playing: a folder recreated empty
    /// and then filled must not stop the music). False when nobody listens any more.
    fn check_folder(&mut self) -> bool {
        let now = folder_id(&self.dir);
        if now == self.folder {
            return true;
        }
        let Some(watcher) = self.watcher.upgrade() else {
            return false; // the engine is stopping
        };
        let mut watcher = watcher.lock().unwrap_or_else(|e| e.into_inner());
        if self.folder.take().is_some() {
            let _ = watcher.unwatch(&self.dir); // already gone after a delete
            self.pending.clear();
            let gone = FileChange::FolderGone {
                dir: self.dir.clone(),
            };
            if self.out.send(gone).is_err() {
                return false;
            }
        }
        if now.is_none()
            || watcher
                .watch(&self.dir, RecursiveMode::NonRecursive)
                .is_err()
        {
            return true; // look again at the next poll
        }
        drop(watcher);
        self.folder = now;
        let back = FileChange::FolderBack {
            dir: self.dir.clone(),
        };
        if self.out.send(back).is_err() {
            return false;
        }
        // Watched first, scanned second: a file written in between is seen by both, and the
        // content hash drops the second report.
        let at = Instant::now();
        for path in scan(&self.dir).unwrap_or_default() {
            let Ok(src) = std::fs::read_to_string(&path) else {
                continue;
            };
            if let Some(c) = self.changed(path, src, at) {
                if self.out.send(c).is_err() {
                    return false;
                }
            }
        }
        true
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
