//! The recorder thread: takes what the scheduler sends over a channel (never blocking it),
//! appends it to the journal, flushes after every batch and fsyncs at every bar; on a clean
//! stop turns the journal into the MIDI file.

use super::journal::{self, try_lock};
use super::recover::finish_journal;
use super::target::{journal_path, next_free};
use super::{io_err, RecordError};
use crate::engine::event::{Tick, TimedEvent, TrackInfo};
use crate::engine::transport::TimeSig;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::Instant;

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
        let head = journal::header(opts.time_sig, &opts.provenance);
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
                RecordMsg::Tracks(ts) => journal::push_tracks(&mut buf, &ts),
                RecordMsg::Tempo(t, bpm) => journal::push_tempo(&mut buf, t, bpm),
                RecordMsg::Marker(t, m) => journal::push_marker(&mut buf, t, &m),
                RecordMsg::Events(evs) => {
                    for e in &evs {
                        tick_now = Some(e.tick);
                        journal::push_event(&mut buf, e);
                    }
                }
                RecordMsg::Stop(t) => {
                    journal::push_end(&mut buf, t);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::event::{Event, Sound};
    use crate::record::recover::recover;
    use crate::record::RecordError;
    use std::path::Path;

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
}
