//! Recording: the event stream the synth plays → an append-only journal → a MIDI file.
//!
//! The scheduler hands each batch of events to the recorder over a channel and never
//! waits for it; the recorder thread appends them to `<target>.weftjournal` (one text
//! record per line, each ending in a checksum), flushes after every batch (the scheduler
//! sends batches every few milliseconds, so well within a beat) and fsyncs at every bar.
//! On a clean stop the journal becomes the SMF (through the same writer as `weft render`)
//! and is removed. After a crash or `kill -9`, [`recover`] turns whatever the journal holds
//! into a valid SMF: a torn last record is cut, every open note is closed at the end.
//!
//! Record lines (fields separated by one space, text last):
//! ```text
//! H weft-journal 1 <num> <den>        header
//! T <id> <channel> <program|-> <name>  track
//! P <tick> <bpm>                       tempo change
//! M <tick> <text>                      marker
//! X <text>                             provenance
//! N <tick> <track> <channel> <key> <vel>
//! F <tick> <track> <channel> <key>
//! E <tick>                             clean end
//! ```
//! followed by ` ~<16 hex digits>`, the FNV-1a hash of the text before it.

pub mod smf;

use crate::engine::event::{Event, Sound, Tick, TimedEvent, TrackInfo};
use crate::engine::transport::TimeSig;
use crate::patch::fnv1a;
use crate::record::smf::SessionMidi;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: not a weft journal (bad header)")]
    NotAJournal { path: String },
    #[error("{path}: in use by another weft; left alone")]
    InUse { path: String },
    #[error("{path}: finished or replaced by its own weft meanwhile; left alone")]
    Gone { path: String },
    #[error("{path}: cannot record here: {error}")]
    Unwritable { path: String, error: std::io::Error },
    #[error("{path}: no free recording name (tried {tries} numbered names)")]
    NoFreeName { path: String, tries: u32 },
    #[error(transparent)]
    Smf(#[from] crate::record::smf::SmfError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |error| RecordError::Io {
        path: path.display().to_string(),
        error,
    }
}

/// The journal next to a target MIDI file.
pub fn journal_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".weftjournal");
    PathBuf::from(s)
}

/// The MIDI file a journal belongs to.
pub fn target_of(journal: &Path) -> PathBuf {
    let s = journal.to_string_lossy();
    PathBuf::from(s.strip_suffix(".weftjournal").unwrap_or(&s).to_string())
}

fn line(text: &str) -> String {
    format!("{text} ~{:016x}\n", fnv1a(&[text.as_bytes()]))
}

fn clean(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// What the scheduler sends the recorder.
#[derive(Debug)]
pub enum RecordMsg {
    Tracks(Vec<TrackInfo>),
    Tempo(Tick, f64),
    Marker(Tick, String),
    Events(Vec<TimedEvent>),
    /// Clean stop at this tick: write the SMF, remove the journal.
    Stop(Tick),
}

/// Result of a finished recording.
#[derive(Debug)]
pub struct Finished {
    pub path: PathBuf,
    pub notes: usize,
    pub end: Tick,
    /// Most events ever waiting for the disk at once (the recorder's buffer at its fullest).
    pub max_backlog: u64,
}

/// The recorder thread's handle. Sending never blocks the scheduler.
pub struct Recorder {
    tx: Sender<RecordMsg>,
    handle: Option<JoinHandle<Result<Finished, RecordError>>>,
    pub target: PathBuf,
    pub started: Instant,
    backlog: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Options for a recording.
pub struct RecordOptions {
    pub target: PathBuf,
    pub time_sig: TimeSig,
    pub provenance: Vec<String>,
    /// Test hook: a pause before each write, to simulate a slow disk.
    pub slow_disk: Option<std::time::Duration>,
}

/// Takes the journal lock (`flock(LOCK_EX | LOCK_NB)`) on an open journal. `Ok(false)`: another
/// process holds it (a live recording). The lock lasts as long as the file stays open.
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a file descriptor this `File` owns and keeps open for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

/// Whether an open file is still the one at `path` (not removed or replaced since it was opened).
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether a recording may use this name: neither the file nor its journal exists (a dangling
/// symlink counts as existing).
fn name_free(target: &Path) -> bool {
    std::fs::symlink_metadata(target).is_err()
        && std::fs::symlink_metadata(journal_path(target)).is_err()
}

/// `take.mid` → `take-<n>.mid` (`take` → `take-<n>`).
fn numbered(target: &Path, n: u32) -> PathBuf {
    let stem = target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match target.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    target.with_file_name(name)
}

const MAX_NUMBERED: u32 = 10_000;

/// `target` if it is free, else the first free `take-2.mid`, `take-3.mid`, … (a name is taken
/// when the file or its journal exists).
pub fn next_free(target: &Path) -> Result<PathBuf, RecordError> {
    if name_free(target) {
        return Ok(target.to_path_buf());
    }
    (2..MAX_NUMBERED)
        .map(|n| numbered(target, n))
        .find(|p| name_free(p))
        .ok_or_else(|| RecordError::NoFreeName {
            path: target.display().to_string(),
            tries: MAX_NUMBERED - 2,
        })
}

/// Where a requested recording will go, chosen before the music starts.
#[derive(Debug)]
pub struct RecordTarget {
    pub path: PathBuf,
    /// Set when the requested name was taken: says which name is used instead.
    pub note: Option<String>,
}

/// Chooses the file a `--record` recording goes to: the folder is created and must be
/// writable (checked now, with a probe file, so a bad target is an error before the music
/// starts), and an existing recording or journal is never reused: the next free numbered name
/// is taken instead (the note says so). Call it after recovery, so a just-recovered
/// `take.mid` also counts as taken.
pub fn choose_target(wanted: &Path) -> Result<RecordTarget, RecordError> {
    let unwritable = |p: &Path| {
        let path = p.display().to_string();
        move |error| RecordError::Unwritable { path, error }
    };
    if wanted.file_name().is_none() || wanted.is_dir() {
        return Err(RecordError::Unwritable {
            path: wanted.display().to_string(),
            error: std::io::Error::other("is a folder, not a file name"),
        });
    }
    let dir = wanted
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(unwritable(dir))?;
    let probe = dir.join(format!(".weft-probe-{}", std::process::id()));
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&probe)
        .map_err(unwritable(dir))?;
    let _ = std::fs::remove_file(&probe);
    let path = next_free(wanted)?;
    let note = (path != wanted).then(|| {
        format!(
            "{} is taken; recording to {} instead",
            wanted.display(),
            path.display()
        )
    });
    Ok(RecordTarget { path, note })
}

impl Recorder {
    /// Creates and locks the journal and starts the thread. An existing recording is never
    /// overwritten: when the target (or its journal) exists, the next free numbered name is
    /// used (`Recorder::target` says which).
    pub fn start(opts: RecordOptions) -> Result<Recorder, RecordError> {
        if let Some(dir) = opts.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        // Creating the journal claims the name; a name taken in between moves on to the next.
        let (target, jpath, file) = loop {
            let target = next_free(&opts.target)?;
            let jpath = journal_path(&target);
            match OpenOptions::new().create_new(true).write(true).open(&jpath) {
                Ok(f) => break (target, jpath, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err(&jpath)(e)),
            }
        };
        // Held for the recorder's lifetime: recovery elsewhere leaves a locked journal alone.
        if !try_lock(&file).map_err(io_err(&jpath))? {
            // Only a recovery attempt can hold a journal this new; it finds it empty.
            drop(file);
            let _ = std::fs::remove_file(&jpath);
            return Err(RecordError::InUse {
                path: jpath.display().to_string(),
            });
        }
        let mut w = BufWriter::new(file);
        let mut head = line(&format!(
            "H weft-journal 1 {} {}",
            opts.time_sig.num, opts.time_sig.den
        ));
        for p in &opts.provenance {
            head.push_str(&line(&format!("X {}", clean(p))));
        }
        w.write_all(head.as_bytes()).map_err(io_err(&jpath))?;
        w.flush().map_err(io_err(&jpath))?;
        let (tx, rx) = mpsc::channel();
        let backlog = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let slow = opts.slow_disk;
        let sig = opts.time_sig;
        let handle = thread::Builder::new()
            .name("weft-record".into())
            .spawn({
                let backlog = backlog.clone();
                move || run(rx, w, jpath, sig, slow, backlog)
            })
            .expect("spawn recorder thread");
        Ok(Recorder {
            backlog,
            tx,
            handle: Some(handle),
            target,
            started: Instant::now(),
        })
    }

    /// Queues a message; never blocks. Returns false if the recorder died (disk error).
    pub fn send(&self, m: RecordMsg) -> bool {
        if let RecordMsg::Events(e) = &m {
            self.backlog
                .fetch_add(e.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
        self.tx.send(m).is_ok()
    }

    /// Events handed over but not yet written (the buffer a slow disk fills).
    pub fn backlog(&self) -> u64 {
        self.backlog.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Asks the recorder to stop at `end` and write the SMF, without waiting: the caller
    /// polls [`Recorder::is_done`] and then collects the result with [`Recorder::finish`]
    /// (which then returns at once). The scheduler thread never waits for the disk.
    pub fn request_stop(&self, end: Tick) {
        let _ = self.tx.send(RecordMsg::Stop(end));
    }

    /// True once the recorder thread has ended (the SMF written, or an error).
    pub fn is_done(&self) -> bool {
        self.handle.as_ref().is_none_or(|h| h.is_finished())
    }

    /// Stops cleanly at `end` and waits for the SMF. After [`Recorder::request_stop`] the
    /// `end` given there wins (the recorder has already stopped).
    pub fn finish(mut self, end: Tick) -> Result<Finished, RecordError> {
        let _ = self.tx.send(RecordMsg::Stop(end));
        self.handle
            .take()
            .expect("finish once")
            .join()
            .unwrap_or_else(|_| {
                Err(RecordError::Io {
                    path: self.target.display().to_string(),
                    error: std::io::Error::other("recorder thread panicked"),
                })
            })
    }
}

fn run(
    rx: Receiver<RecordMsg>,
    mut w: BufWriter<File>,
    jpath: PathBuf,
    sig: TimeSig,
    slow: Option<std::time::Duration>,
    backlog: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> Result<Finished, RecordError> {
    let bar = sig.ticks_per_bar();
    let mut max_backlog = 0u64;
    let mut last_sync_bar = 0;
    while let Ok(msg) = rx.recv() {
        if let Some(d) = slow {
            thread::sleep(d);
        }
        let mut buf = String::new();
        let mut tick_now = None;
        let mut stop = None;
        // Take everything queued so a slow disk catches up in one write.
        let mut msgs = vec![msg];
        msgs.extend(rx.try_iter());
        max_backlog = max_backlog.max(backlog.load(std::sync::atomic::Ordering::Relaxed));
        let taken: u64 = msgs
            .iter()
            .map(|m| match m {
                RecordMsg::Events(e) => e.len() as u64,
                _ => 0,
            })
            .sum();
        for m in msgs {
            match m {
                RecordMsg::Tracks(ts) => {
                    for t in ts {
                        let prog = t.program.map_or("-".to_string(), |p| p.to_string());
                        buf.push_str(&line(&format!(
                            "T {} {} {} {}",
                            t.id,
                            t.channel,
                            prog,
                            clean(&t.name)
                        )));
                    }
                }
                RecordMsg::Tempo(t, bpm) => buf.push_str(&line(&format!("P {t} {bpm}"))),
                RecordMsg::Marker(t, m) => buf.push_str(&line(&format!("M {t} {}", clean(&m)))),
                RecordMsg::Events(evs) => {
                    for e in evs {
                        tick_now = Some(e.tick);
                        match e.event {
                            Event::NoteOn {
                                track,
                                channel,
                                key,
                                vel,
                                ..
                            } => buf.push_str(&line(&format!(
                                "N {} {track} {channel} {key} {vel}",
                                e.tick
                            ))),
                            Event::NoteOff {
                                track,
                                channel,
                                key,
                            } => buf
                                .push_str(&line(&format!("F {} {track} {channel} {key}", e.tick))),
                            Event::Param { .. } => {}
                        }
                    }
                }
                RecordMsg::Stop(t) => {
                    buf.push_str(&line(&format!("E {t}")));
                    stop = Some(t);
                }
            }
        }
        w.write_all(buf.as_bytes()).map_err(io_err(&jpath))?;
        w.flush().map_err(io_err(&jpath))?;
        backlog.fetch_sub(taken, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = tick_now {
            if t / bar > last_sync_bar {
                last_sync_bar = t / bar;
                w.get_ref().sync_data().map_err(io_err(&jpath))?;
            }
        }
        if stop.is_some() {
            w.get_ref().sync_all().map_err(io_err(&jpath))?;
            // The lock (held by `w`) lasts until the journal is gone.
            let done = finish_journal(&jpath).map(|f| Finished { max_backlog, ..f });
            drop(w);
            return done;
        }
    }
    // The scheduler went away without a stop: leave the journal for recovery.
    Err(RecordError::Io {
        path: jpath.display().to_string(),
        error: std::io::Error::other("recording ended without a stop; recover the journal"),
    })
}

/// What a journal holds.
#[derive(Debug, Default)]
pub struct JournalContents {
    pub midi: SessionMidi,
    /// Records read, and damaged stretches skipped (a torn tail, a corrupt record, a record
    /// that verifies but does not parse): each skipped stretch counts once.
    pub records: usize,
    pub cut: usize,
    /// Bytes in the skipped stretches.
    pub skipped_bytes: usize,
    pub clean_end: bool,
    pub notes: usize,
}

/// Reads a journal, keeping every whole record: a damaged record is skipped and reading
/// resumes at the next record whose checksum verifies.
pub fn read_journal(path: &Path) -> Result<JournalContents, RecordError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    parse_journal(&bytes, path)
}

/// The record starting at `pos` if it is whole and its checksum verifies: its text and
/// where the next record starts.
fn record_at(bytes: &[u8], pos: usize) -> Option<(&str, usize)> {
    let nl = pos + bytes.get(pos..)?.iter().position(|&b| b == b'\n')?;
    let (body, hash) = split_record(&bytes[pos..nl])?;
    (u64::from_str_radix(hash, 16).ok()? == fnv1a(&[body.as_bytes()])).then_some((body, nl + 1))
}

/// Whether a line ends like a record: ` ~<16 lowercase hex digits>` after some text.
fn record_shaped(line: &[u8]) -> bool {
    let n = line.len();
    n >= 19
        && &line[n - 18..n - 16] == b" ~"
        && line[n - 16..]
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A line's text and checksum digits, if it has the shape `<text> ~<16 lowercase hex>`.
fn split_record(line: &[u8]) -> Option<(&str, &str)> {
    if !record_shaped(line) {
        return None;
    }
    let n = line.len();
    let body = std::str::from_utf8(&line[..n - 18]).ok()?;
    Some((body, std::str::from_utf8(&line[n - 16..]).ok()?))
}

/// The first offset at or after `from` where a verifying record starts. Only lines ending in a
/// checksum-shaped tail are searched, so a long garbage tail costs one pass.
fn resync(bytes: &[u8], from: usize) -> Option<usize> {
    let mut start = from;
    while start < bytes.len() {
        let nl = start + bytes[start..].iter().position(|&b| b == b'\n')?;
        if record_shaped(&bytes[start..nl]) {
            if let Some(q) = (start..nl).find(|&q| record_at(bytes, q).is_some()) {
                return Some(q);
            }
        }
        start = nl + 1;
    }
    None
}

/// Parses a journal's bytes (see [`read_journal`]); `path` names it in errors.
pub fn parse_journal(bytes: &[u8], path: &Path) -> Result<JournalContents, RecordError> {
    let not_a_journal = || RecordError::NotAJournal {
        path: path.display().to_string(),
    };
    let mut jc = JournalContents::default();
    let mut open: HashMap<(u8, u8), (u16, Tick)> = HashMap::new();
    let mut max_tick: Tick = 0;
    let mut pos = 0;
    // Whether the previous stretch was damaged (a run of bad records counts once).
    let mut in_damage = false;
    while pos < bytes.len() {
        let Some((body, next)) = record_at(bytes, pos) else {
            let resume = resync(bytes, pos + 1).unwrap_or(bytes.len());
            jc.skipped_bytes += resume - pos;
            if !in_damage {
                jc.cut += 1;
            }
            in_damage = true;
            pos = resume;
            continue;
        };
        let (at_start, rec_len) = (pos == 0, next - pos);
        pos = next;
        let f: Vec<&str> = body.splitn(6, ' ').collect();
        if f[0] == "H" {
            if f.len() < 5 || f[1] != "weft-journal" || jc.records > 0 {
                if at_start {
                    return Err(not_a_journal());
                }
            } else {
                jc.midi.time_sig =
                    TimeSig::new(f[3].parse().unwrap_or(4), f[4].parse().unwrap_or(4))
                        .unwrap_or_default();
                jc.records += 1;
                in_damage = false;
                continue;
            }
        } else if at_start {
            // A file whose first line verifies must begin with the header.
            return Err(not_a_journal());
        }
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
        let track = |i: usize| f.get(i).and_then(|s| s.parse::<u16>().ok());
        let byte = |i: usize| f.get(i).and_then(|s| s.parse::<u8>().ok());
        let ok = match f[0] {
            "T" => {
                let rest: Vec<&str> = body.splitn(5, ' ').collect();
                match (track(1), byte(2), rest.get(3), rest.get(4)) {
                    (Some(id), Some(ch), Some(p), Some(name)) => {
                        jc.midi.tracks.push(TrackInfo {
                            id,
                            name: name.to_string(),
                            channel: ch,
                            program: p.parse().ok(),
                        });
                        true
                    }
                    _ => false,
                }
            }
            "P" => match (num(1), f.get(2).and_then(|s| s.parse::<f64>().ok())) {
                (Some(t), Some(bpm)) if bpm.is_finite() && bpm > 0.0 => {
                    jc.midi.tempo.retain(|(x, _)| *x < t);
                    jc.midi.tempo.push((t, bpm));
                    true
                }
                _ => false,
            },
            "M" => match (num(1), body.splitn(3, ' ').nth(2)) {
                (Some(t), Some(text)) => {
                    jc.midi.markers.push((t, text.to_string()));
                    max_tick = max_tick.max(t);
                    true
                }
                _ => false,
            },
            "X" => {
                jc.midi
                    .provenance
                    .push(body.get(2..).unwrap_or("").to_string());
                true
            }
            "N" => match (num(1), track(2), byte(3), byte(4), byte(5)) {
                (Some(t), Some(tr), Some(ch), Some(k), Some(v)) => {
                    if let Some((otr, _)) = open.remove(&(ch, k)) {
                        jc.midi.events.push((
                            t,
                            Event::NoteOff {
                                track: otr,
                                channel: ch,
                                key: k,
                            },
                        ));
                    }
                    open.insert((ch, k), (tr, t));
                    jc.midi.events.push((
                        t,
                        Event::NoteOn {
                            track: tr,
                            channel: ch,
                            key: k,
                            vel: v,
                            sound: Sound::default(),
                        },
                    ));
                    jc.notes += 1;
                    max_tick = max_tick.max(t);
                    true
                }
                _ => false,
            },
            "F" => match (num(1), track(2), byte(3), byte(4)) {
                (Some(t), Some(tr), Some(ch), Some(k)) => {
                    if open.remove(&(ch, k)).is_some() {
                        jc.midi.events.push((
                            t,
                            Event::NoteOff {
                                track: tr,
                                channel: ch,
                                key: k,
                            },
                        ));
                    }
                    max_tick = max_tick.max(t);
                    true
                }
                _ => false,
            },
            "E" => match num(1) {
                Some(t) => {
                    jc.clean_end = true;
                    max_tick = max_tick.max(t);
                    jc.midi.end = t;
                    true
                }
                None => false,
            },
            _ => false,
        };
        if ok {
            jc.records += 1;
            in_damage = false;
        } else {
            // Verifies but does not parse (a newer weft's record?): skip it, keep reading.
            jc.skipped_bytes += rec_len;
            if !in_damage {
                jc.cut += 1;
            }
            in_damage = true;
        }
    }
    if jc.records == 0 {
        return Err(not_a_journal());
    }
    // Close every open note at the end.
    // (At least one tick after the last open note-on, so no note is empty.)
    let last_open = open.values().map(|(_, t)| *t + 1).max().unwrap_or(0);
    let end = max_tick.max(jc.midi.end).max(last_open);
    let mut still: Vec<_> = open.into_iter().collect();
    still.sort();
    for ((ch, k), (tr, _)) in still {
        jc.midi.events.push((
            end,
            Event::NoteOff {
                track: tr,
                channel: ch,
                key: k,
            },
        ));
    }
    jc.midi.end = end;
    if jc.midi.tempo.is_empty() {
        jc.midi.tempo.push((0, 120.0));
    }
    Ok(jc)
}

/// Writes the SMF to the first of `names` that does not exist (never replacing a file).
fn write_fresh(
    midi: &SessionMidi,
    names: impl Iterator<Item = PathBuf>,
) -> Result<PathBuf, RecordError> {
    let mut last = None;
    for p in names.take(MAX_NUMBERED as usize) {
        match midi.write_new(&p) {
            Ok(()) => return Ok(p),
            Err(crate::record::smf::SmfError::Exists { .. }) => last = Some(p),
            Err(e) => return Err(e.into()),
        }
    }
    Err(RecordError::NoFreeName {
        path: last.map(|p| p.display().to_string()).unwrap_or_default(),
        tries: MAX_NUMBERED,
    })
}

fn finish_journal(jpath: &Path) -> Result<Finished, RecordError> {
    let jc = read_journal(jpath)?;
    let target = target_of(jpath);
    let names = std::iter::once(target.clone()).chain((2..).map(|n| numbered(&target, n)));
    let path = write_fresh(&jc.midi, names)?;
    std::fs::remove_file(jpath).map_err(io_err(jpath))?;
    Ok(Finished {
        path,
        notes: jc.notes,
        end: jc.midi.end,
        max_backlog: 0,
    })
}

/// Turns a journal left by a crash into its MIDI file (never overwriting: a numbered name is
/// chosen when the target exists). Returns where it went and how much was kept.
///
/// A journal whose recording is still running (its lock is held by another weft) is left
/// alone: [`RecordError::InUse`], nothing read, written or removed.
pub fn recover(journal: &Path) -> Result<(Finished, JournalContents), RecordError> {
    let file = File::open(journal).map_err(io_err(journal))?;
    if !try_lock(&file).map_err(io_err(journal))? {
        return Err(RecordError::InUse {
            path: journal.display().to_string(),
        });
    }
    // Locked, but the owner may have finished and removed it between our open and the lock.
    if !still_at(&file, journal) {
        return Err(RecordError::Gone {
            path: journal.display().to_string(),
        });
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut &file, &mut bytes).map_err(io_err(journal))?;
    let jc = parse_journal(&bytes, journal)?;
    let first = target_of(journal);
    let stem = first.with_extension("");
    let names = std::iter::once(first)
        .chain((1..).map(|n| PathBuf::from(format!("{}-recovered-{n}.mid", stem.display()))));
    let path = write_fresh(&jc.midi, names)?;
    std::fs::remove_file(journal).map_err(io_err(journal))?;
    drop(file);
    Ok((
        Finished {
            path,
            notes: jc.notes,
            end: jc.midi.end,
            max_backlog: 0,
        },
        jc,
    ))
}

/// Journals left in `dir` (by a crash), oldest first.
pub fn find_journals(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".weftjournal"))
        .collect();
    v.sort();
    v
}

/// A default recording name with date and time, never an existing file.
pub fn default_target(dir: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = civil(secs);
    let base = format!("weft-{y:04}-{mo:02}-{d:02}-{h:02}{mi:02}{s:02}");
    let mut p = dir.join(format!("{base}.mid"));
    let mut n = 2;
    while p.exists() || journal_path(&p).exists() {
        p = dir.join(format!("{base}-{n}.mid"));
        n += 1;
    }
    p
}

/// UTC civil time from Unix seconds (Howard Hinnant's days-from-civil inverse).
pub fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (
        if m <= 2 { y + 1 } else { y },
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(tick: Tick, on: bool, key: u8) -> TimedEvent {
        TimedEvent {
            tick,
            frame: tick * 25,
            event: if on {
                Event::NoteOn {
                    track: 0,
                    channel: 0,
                    key,
                    vel: 90,
                    sound: Sound::default(),
                }
            } else {
                Event::NoteOff {
                    track: 0,
                    channel: 0,
                    key,
                }
            },
        }
    }

    fn start(dir: &Path) -> Recorder {
        Recorder::start(RecordOptions {
            target: dir.join("take.mid"),
            time_sig: TimeSig::default(),
            provenance: vec!["weft test".into()],
            slow_disk: None,
        })
        .unwrap()
    }

    #[test]
    fn clean_stop_writes_smf_and_removes_journal() {
        let dir = tempfile::tempdir().unwrap();
        let r = start(dir.path());
        r.send(RecordMsg::Tracks(vec![TrackInfo {
            id: 0,
            name: "a.lead".into(),
            channel: 0,
            program: None,
        }]));
        r.send(RecordMsg::Tempo(0, 120.0));
        r.send(RecordMsg::Events(vec![
            ev(0, true, 60),
            ev(480, false, 60),
            ev(960, true, 62),
        ]));
        let f = r.finish(3840).unwrap();
        assert_eq!(f.notes, 2);
        assert!(!journal_path(&f.path).exists());
        let rb = crate::record::smf::read(&std::fs::read(&f.path).unwrap(), "take.mid").unwrap();
        assert_eq!(rb.notes.len(), 2);
        assert_eq!(rb.notes[1].end, 3840, "open note closed at the stop");
        assert!(rb.problems.is_empty());
        // Never overwrites: a second take goes to the next free name.
        let before = std::fs::read(&f.path).unwrap();
        let r2 = start(dir.path());
        assert_eq!(r2.target, dir.path().join("take-2.mid"));
        let f2 = r2.finish(3840).unwrap();
        assert_eq!(f2.path, dir.path().join("take-2.mid"));
        assert_eq!(std::fs::read(&f.path).unwrap(), before);
    }

    #[test]
    fn a_live_journal_is_locked_and_recovery_leaves_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let r = start(dir.path());
        r.send(RecordMsg::Events(vec![ev(0, true, 60)]));
        let j = journal_path(&r.target);
        // Wait (deterministically) until the recorder wrote the event.
        while !std::fs::read_to_string(&j).unwrap().contains("\nN 0 ") {
            std::thread::yield_now();
        }
        let before = std::fs::read(&j).unwrap();
        // Another open of the journal (as another process's recovery makes) cannot lock it.
        let e = recover(&j).unwrap_err();
        assert!(matches!(e, RecordError::InUse { .. }), "{e}");
        assert!(e.to_string().contains("in use by another weft; left alone"));
        assert_eq!(std::fs::read(&j).unwrap(), before, "journal untouched");
        assert!(!dir.path().join("take.mid").exists(), "nothing recovered");
        let f = r.finish(960).unwrap();
        assert_eq!(f.notes, 1);
        assert!(!j.exists());
    }

    #[test]
    fn choose_target_takes_the_next_free_name_and_checks_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let want = dir.path().join("sub/take.mid");
        let t = choose_target(&want).unwrap();
        assert_eq!((t.path.as_path(), t.note.is_none()), (want.as_path(), true));
        std::fs::write(&want, b"MThd").unwrap();
        std::fs::write(journal_path(&dir.path().join("sub/take-2.mid")), b"").unwrap();
        let t = choose_target(&want).unwrap();
        assert_eq!(t.path, dir.path().join("sub/take-3.mid"));
        assert!(t.note.unwrap().contains("take-3.mid"));
        // A folder that cannot be made is an error now, not a silent take-less session.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let e = choose_target(&file.join("take.mid")).unwrap_err();
        assert!(matches!(e, RecordError::Unwritable { .. }), "{e}");
        assert!(
            choose_target(dir.path()).is_err(),
            "a folder is not a file name"
        );
    }

    /// A small journal and, for each record, its byte range and whether it is a note-on.
    fn journal(recs: &[String]) -> (Vec<u8>, Vec<(usize, usize, bool)>) {
        let mut out = Vec::new();
        let mut spans = Vec::new();
        for r in recs {
            let a = out.len();
            out.extend_from_slice(line(r).as_bytes());
            spans.push((a, out.len(), r.starts_with("N ")));
        }
        (out, spans)
    }

    fn records_strategy() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let rec = prop_oneof![
            (0u64..10_000, 0u8..128, 1u8..128).prop_map(|(t, k, v)| format!("N {t} 0 0 {k} {v}")),
            (0u64..10_000, 0u8..128).prop_map(|(t, k)| format!("F {t} 0 0 {k}")),
            (0u64..10_000, "[a-z ~]{0,12}").prop_map(|(t, m)| format!("M {t} {m}")),
            (0u64..10_000, 40u32..300).prop_map(|(t, b)| format!("P {t} {b}")),
        ];
        proptest::collection::vec(rec, 1..12).prop_map(|mut v| {
            v.insert(0, "T 0 0 - a.lead".into());
            v.insert(0, "H weft-journal 1 4 4".into());
            v
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Cut anywhere: every whole record before the cut is kept, nothing panics. One byte
        /// damaged anywhere: only the record holding it is lost; reading resyncs after it.
        #[test]
        fn recovery_keeps_every_record_damage_did_not_touch(recs in records_strategy()) {
            let (bytes, spans) = journal(&recs);
            let p = Path::new("t.mid.weftjournal");
            let header_end = spans[0].1;
            for cut in 0..=bytes.len() {
                let r = parse_journal(&bytes[..cut], p);
                if cut < header_end {
                    proptest::prop_assert!(r.is_err());
                    continue;
                }
                let jc = r.unwrap();
                let whole: Vec<_> = spans.iter().filter(|s| s.1 <= cut).collect();
                proptest::prop_assert_eq!(jc.records, whole.len());
                proptest::prop_assert_eq!(jc.notes, whole.iter().filter(|s| s.2).count());
                let kept_to = whole.last().map_or(0, |s| s.1);
                proptest::prop_assert_eq!(jc.cut, usize::from(cut > kept_to));
                proptest::prop_assert_eq!(jc.skipped_bytes, cut - kept_to);
            }
            for at in 0..bytes.len() {
                for flip in [0x01u8, 0x20, 0x80, b'\n' ^ bytes[at]] {
                    if flip == 0 {
                        continue;
                    }
                    let mut bad = bytes.clone();
                    bad[at] ^= flip;
                    let hit = spans.iter().position(|s| s.0 <= at && at < s.1).unwrap();
                    let jc = parse_journal(&bad, p).unwrap();
                    proptest::prop_assert_eq!(jc.records, spans.len() - 1, "byte {} ^ {:#x}", at, flip);
                    let notes = spans.iter().enumerate().filter(|(i, s)| *i != hit && s.2).count();
                    proptest::prop_assert_eq!(jc.notes, notes);
                    proptest::prop_assert_eq!(jc.cut, 1);
                    proptest::prop_assert_eq!(jc.skipped_bytes, spans[hit].1 - spans[hit].0);
                }
            }
        }
    }

    #[test]
    fn truncated_last_record_recovers_everything_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("crash.mid.weftjournal");
        let mut s = line("H weft-journal 1 4 4");
        s.push_str(&line("T 0 9 - a.kick"));
        s.push_str(&line("P 0 120"));
        s.push_str(&line("N 0 0 9 36 100"));
        s.push_str(&line("F 480 0 9 36"));
        s.push_str(&line("N 960 0 9 36 100"));
        let whole = s.len();
        s.push_str(&line("F 1440 0 9 36"));
        let torn = &s[..whole + 7];
        std::fs::write(&j, torn).unwrap();
        let (f, jc) = recover(&j).unwrap();
        assert_eq!(jc.cut, 1);
        assert_eq!(jc.notes, 2);
        let rb = crate::record::smf::read(&std::fs::read(&f.path).unwrap(), "crash.mid").unwrap();
        assert_eq!(rb.notes.len(), 2);
        assert_eq!((rb.notes[1].start, rb.notes[1].end), (960, 961));
        assert!(rb.problems.is_empty());
        assert!(!j.exists());
        // A corrupted (bit-flipped) record is skipped and reading goes on after it: the
        // note-off after the damaged note-on has no note to end, the note before is kept.
        let mut bad = s.clone().into_bytes();
        let pos = whole - 10;
        bad[pos] ^= 1;
        std::fs::write(&j, &bad).unwrap();
        let jc = read_journal(&j).unwrap();
        assert_eq!((jc.notes, jc.cut, jc.records), (1, 1, 6));
        // A damaged record in the middle no longer drops the ones after it.
        let mut mid = s.clone().into_bytes();
        let second = line("H weft-journal 1 4 4").len() + 3;
        mid[second] ^= 1;
        std::fs::write(&j, &mid).unwrap();
        let jc = read_journal(&j).unwrap();
        assert_eq!((jc.notes, jc.cut, jc.records), (2, 1, 6), "{jc:?}");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_795_000_000), (2026, 11, 18, 11, 6, 40));
    }
}
