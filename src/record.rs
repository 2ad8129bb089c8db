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

use crate::event::{Event, Sound, Tick, TimedEvent, TrackInfo};
use crate::patch::fnv1a;
use crate::smf::SessionMidi;
use crate::transport::TimeSig;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path} already exists; weft never overwrites a recording")]
    Exists { path: String },
    #[error("{path}: not a weft journal (bad header)")]
    NotAJournal { path: String },
    #[error(transparent)]
    Smf(#[from] crate::smf::SmfError),
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

impl Recorder {
    /// Creates the journal (refusing to overwrite an existing target) and starts the thread.
    pub fn start(opts: RecordOptions) -> Result<Recorder, RecordError> {
        let target = opts.target.clone();
        if target.exists() {
            return Err(RecordError::Exists {
                path: target.display().to_string(),
            });
        }
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let jpath = journal_path(&target);
        let file = OpenOptions::new()
            .create_new(true)
            .write(true)
            .open(&jpath)
            .map_err(io_err(&jpath))?;
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

    /// Stops cleanly at `end` and waits for the SMF.
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
            drop(w);
            return finish_journal(&jpath).map(|f| Finished { max_backlog, ..f });
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
    /// Records read and records cut (a torn or corrupt tail).
    pub records: usize,
    pub cut: usize,
    pub clean_end: bool,
    pub notes: usize,
}

/// Reads a journal, keeping every whole record before the first damaged one.
pub fn read_journal(path: &Path) -> Result<JournalContents, RecordError> {
    let f = File::open(path).map_err(io_err(path))?;
    let mut r = BufReader::new(f);
    let mut jc = JournalContents::default();
    let mut raw = Vec::new();
    let mut first = true;
    let mut open: HashMap<(u8, u8), (u16, Tick)> = HashMap::new();
    let mut max_tick: Tick = 0;
    let mut cut = false;
    loop {
        raw.clear();
        let n = r.read_until(b'\n', &mut raw).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        if cut {
            jc.cut += 1;
            continue;
        }
        let ok_line = raw.last() == Some(&b'\n');
        let text = String::from_utf8_lossy(&raw);
        let text = text.trim_end_matches('\n');
        let parsed = ok_line
            .then(|| text.rsplit_once(" ~"))
            .flatten()
            .filter(|(body, h)| u64::from_str_radix(h, 16).ok() == Some(fnv1a(&[body.as_bytes()])))
            .map(|(body, _)| body.to_string());
        let Some(body) = parsed else {
            cut = true;
            jc.cut += 1;
            continue;
        };
        let f: Vec<&str> = body.splitn(6, ' ').collect();
        if first {
            if f.len() < 5 || f[0] != "H" || f[1] != "weft-journal" {
                return Err(RecordError::NotAJournal {
                    path: path.display().to_string(),
                });
            }
            jc.midi.time_sig = TimeSig::new(f[3].parse().unwrap_or(4), f[4].parse().unwrap_or(4))
                .unwrap_or_default();
            first = false;
            jc.records += 1;
            continue;
        }
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
        let ok = match f[0] {
            "T" => {
                let rest: Vec<&str> = body.splitn(5, ' ').collect();
                match (num(1), num(2), rest.get(3), rest.get(4)) {
                    (Some(id), Some(ch), Some(p), Some(name)) => {
                        jc.midi.tracks.push(TrackInfo {
                            id: id as u16,
                            name: name.to_string(),
                            channel: ch as u8,
                            program: p.parse().ok(),
                        });
                        true
                    }
                    _ => false,
                }
            }
            "P" => match (num(1), f.get(2).and_then(|s| s.parse::<f64>().ok())) {
                (Some(t), Some(bpm)) => {
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
            "N" => match (num(1), num(2), num(3), num(4), num(5)) {
                (Some(t), Some(tr), Some(ch), Some(k), Some(v)) => {
                    let (ch, k) = (ch as u8, k as u8);
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
                    open.insert((ch, k), (tr as u16, t));
                    jc.midi.events.push((
                        t,
                        Event::NoteOn {
                            track: tr as u16,
                            channel: ch,
                            key: k,
                            vel: v as u8,
                            sound: Sound::default(),
                        },
                    ));
                    jc.notes += 1;
                    max_tick = max_tick.max(t);
                    true
                }
                _ => false,
            },
            "F" => match (num(1), num(2), num(3), num(4)) {
                (Some(t), Some(tr), Some(ch), Some(k)) => {
                    if open.remove(&(ch as u8, k as u8)).is_some() {
                        jc.midi.events.push((
                            t,
                            Event::NoteOff {
                                track: tr as u16,
                                channel: ch as u8,
                                key: k as u8,
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
        } else {
            cut = true;
            jc.cut += 1;
        }
    }
    if first {
        return Err(RecordError::NotAJournal {
            path: path.display().to_string(),
        });
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

fn finish_journal(jpath: &Path) -> Result<Finished, RecordError> {
    let jc = read_journal(jpath)?;
    let target = target_of(jpath);
    jc.midi.write(&target)?;
    std::fs::remove_file(jpath).map_err(io_err(jpath))?;
    Ok(Finished {
        path: target,
        notes: jc.notes,
        end: jc.midi.end,
        max_backlog: 0,
    })
}

/// Turns a journal left by a crash into its MIDI file (never overwriting: a numbered name is
/// chosen when the target exists). Returns where it went and how much was kept.
pub fn recover(journal: &Path) -> Result<(Finished, JournalContents), RecordError> {
    let jc = read_journal(journal)?;
    let mut target = target_of(journal);
    let mut n = 1;
    while target.exists() {
        let stem = target_of(journal).with_extension("");
        target = PathBuf::from(format!("{}-recovered-{n}.mid", stem.display()));
        n += 1;
    }
    jc.midi.write(&target)?;
    std::fs::remove_file(journal).map_err(io_err(journal))?;
    Ok((
        Finished {
            path: target,
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
        let rb = crate::smf::read(&std::fs::read(&f.path).unwrap(), "take.mid").unwrap();
        assert_eq!(rb.notes.len(), 2);
        assert_eq!(rb.notes[1].end, 3840, "open note closed at the stop");
        assert!(rb.problems.is_empty());
        // Never overwrites.
        assert!(matches!(start_err(dir.path()), RecordError::Exists { .. }));
    }

    fn start_err(dir: &Path) -> RecordError {
        Recorder::start(RecordOptions {
            target: dir.join("take.mid"),
            time_sig: TimeSig::default(),
            provenance: vec![],
            slow_disk: None,
        })
        .err()
        .unwrap()
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
        let rb = crate::smf::read(&std::fs::read(&f.path).unwrap(), "crash.mid").unwrap();
        assert_eq!(rb.notes.len(), 2);
        assert_eq!((rb.notes[1].start, rb.notes[1].end), (960, 961));
        assert!(rb.problems.is_empty());
        assert!(!j.exists());
        // A corrupted (bit-flipped) record also stops the read there.
        let mut bad = s.clone().into_bytes();
        let pos = whole - 10;
        bad[pos] ^= 1;
        std::fs::write(&j, &bad).unwrap();
        let jc = read_journal(&j).unwrap();
        assert_eq!(jc.notes, 1);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(civil(1_795_000_000), (2026, 11, 18, 11, 6, 40));
    }
}
