//! The scheduler thread's run loop: owns the [`Scheduler`], installs compiled patches at
//! their quantize ticks, keeps `lookahead` ahead of the [`Clock`] and delivers what it emits to
//! the output ([`crate::outputs`]) and the recording, answers [`Command`]s and publishes
//! [`Report`]s. Everything it knows arrives as a [`SchedMsg`]; nothing else touches its state.
//!
//! The parts it drives live next to it: the recording session and session log
//! ([`super::recording`]), the status builder ([`super::status`]) and the feature dispatch
//! ([`super::features`]).

use super::features::FeatureDispatch;
use super::recording::{Recordings, SessionFacts};
use super::status::{StatusBuilder, StatusInputs};
use super::sync::{Cue, Follower, Local};
use super::{Clock, Command, EventOut, FeatureLink, LiveConfig, RecentNote, Report, SchedMsg};
use crate::engine::event::{Event, Frame, TimedEvent};
use crate::engine::scheduler::Scheduler;
use crate::patch::{PatchError, StepSource};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub(super) struct SchedThread {
    cfg: LiveConfig,
    clock: Box<dyn Clock>,
    out: Option<Box<dyn EventOut>>,
    sched: Scheduler,
    reports: Sender<Report>,
    current_bar: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    playing: bool,
    recordings: Recordings,
    facts: SessionFacts,
    status: StatusBuilder,
    features: FeatureDispatch,
    late: u64,
    late_reported: u64,
    dropped: u64,
    dropped_reported: u64,
    /// The latest rejected save of each file.
    errors: HashMap<String, PatchError>,
    /// Versions whose first emitted event is reported (reload latency), with the save time.
    awaiting_first: HashMap<String, (u32, Instant)>,
    /// The shared tempo and bar phase this engine follows (`--sync link`).
    sync: Option<Follower>,
}

impl SchedThread {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        cfg: LiveConfig,
        clock: Box<dyn Clock>,
        out: Option<Box<dyn EventOut>>,
        steps: Box<dyn StepSource + Send>,
        features: Option<FeatureLink>,
        reports: Sender<Report>,
        current_bar: Arc<AtomicU64>,
        stop: Arc<AtomicBool>,
    ) -> SchedThread {
        let mut sched = Scheduler::new(clock.sample_rate(), cfg.tempo.unwrap_or(120.0), steps);
        if let Some(t) = cfg.tempo {
            sched.lock_tempo(t);
        }
        let mut sync = cfg.sync.as_ref().and_then(|s| s.take());
        if let Some(f) = &mut sync {
            // The session owns the tempo: `--tempo` is proposed to it, patches' tempo() calls
            // are ignored, and weft starts at the session's tempo.
            let (now, sr) = (clock.now(), clock.sample_rate());
            if let Some(t) = cfg.tempo {
                f.propose(t, now, sr);
            }
            if let Some(t) = f.tempo(now, sr) {
                sched.lock_tempo(t.clamp(20.0, 400.0));
            }
        }
        SchedThread {
            cfg,
            clock,
            out,
            sched,
            reports,
            current_bar,
            stop,
            playing: false,
            recordings: Recordings::default(),
            facts: SessionFacts::new(),
            status: StatusBuilder::new(),
            features: FeatureDispatch::new(features),
            late: 0,
            late_reported: 0,
            dropped: 0,
            dropped_reported: 0,
            errors: HashMap::new(),
            awaiting_first: HashMap::new(),
            sync,
        }
    }

    fn report(&self, r: Report) {
        let _ = self.reports.send(r);
    }

    fn lookahead_frames(&self) -> Frame {
        (self.cfg.lookahead.as_secs_f64() * self.clock.sample_rate() as f64) as Frame
    }

    fn handle(&mut self, m: SchedMsg) -> bool {
        match m {
            SchedMsg::Ready {
                file,
                patch,
                first_event,
                models,
            } => {
                let ready_ms = first_event.map(|t| t.elapsed().as_secs_f64() * 1000.0);
                self.facts.installed(&file, patch.source_hash(), models);
                // A new version starts with its callbacks on.
                self.features.installed(&file, patch.analyze_spec());
                let tick = self.sched.install(&file, *patch);
                self.features.update_analysis(&self.reports);
                self.errors.remove(&file);
                if let Some(ms) = ready_ms {
                    self.status.reloaded(&file, ms);
                }
                let bar = self.sched.time_sig().bar_of(tick);
                self.report(Report::Ready {
                    file: file.clone(),
                    bar,
                    ready_ms: ready_ms.unwrap_or(0.0),
                });
                if let Some(t) = first_event {
                    let version = self
                        .sched
                        .files()
                        .iter()
                        .find(|f| f.0 == file)
                        .map_or(1, |f| f.1 + 1);
                    self.awaiting_first.insert(file, (version, t));
                }
            }
            SchedMsg::Rejected(e) => {
                let file = Path::new(&e.path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if self.errors.get(&file) != Some(&e) {
                    self.report(Report::Rejected { error: e.clone() });
                }
                self.errors.insert(file, e);
            }
            SchedMsg::Removed(f) => {
                self.errors.remove(&f);
                self.sched.remove(&f);
                self.features.removed(&f);
                self.features.update_analysis(&self.reports);
            }
            SchedMsg::Renamed(a, b) => {
                if let Some(e) = self.errors.remove(&a) {
                    self.errors.insert(b.clone(), e);
                }
                self.features.renamed(&a, &b);
                self.sched.rename(&a, &b);
            }
            SchedMsg::InitialDone => {
                if self.cfg.autoplay {
                    self.start_transport();
                }
                if let Some(target) = self.cfg.record.clone() {
                    self.start_recording(target);
                }
            }
            SchedMsg::Command(c) => match c {
                Command::Quit => return false,
                Command::Panic => {
                    if let Some(out) = self.out.as_mut() {
                        out.panic();
                    }
                }
                Command::TogglePlay => {
                    if self.playing {
                        self.stop_transport();
                    } else {
                        self.start_transport();
                    }
                }
                Command::ToggleRecord => {
                    if self.recordings.is_recording() {
                        self.recordings.stop(&self.sched);
                    } else {
                        let t = crate::record::default_target(&self.cfg.record_dir);
                        self.start_recording(t);
                    }
                }
                Command::TempoDelta(d) => {
                    // From the latest requested tempo (the map's last change, which may still
                    // wait for its beat), so quick presses add up: three `+` are +3.
                    let latest = self.sched.tempo_map().changes().last().map(|c| c.1);
                    let bpm = (latest.unwrap_or(120.0) + d).clamp(20.0, 400.0);
                    match &mut self.sync {
                        // Synced: the session decides; weft follows at the next poll.
                        Some(f) => f.propose(bpm, self.clock.now(), self.clock.sample_rate()),
                        None => self.sched.set_tempo_at_next_beat(bpm),
                    }
                }
                Command::ToggleMute(t) => {
                    let m = self.sched.is_muted(&t) && !self.sched.is_soloed(&t);
                    self.sched.set_muted(&t, !m);
                }
                Command::ToggleSolo(t) => {
                    let s = self.sched.is_soloed(&t);
                    self.sched.set_solo(&t, !s);
                }
            },
        }
        true
    }

    fn start_transport(&mut self) {
        if self.playing {
            return;
        }
        // Continue from where the transport stopped, starting `lookahead` from now.
        let resume_frame = self
            .sched
            .tempo_map()
            .tick_to_frame(self.sched.emitted_to());
        // A short lead-in on top of the lookahead absorbs the first bar's one-off costs
        // (loading LSTM models, first `on_bar` calls) without late events.
        let lead_in = self.clock.sample_rate() as Frame / 4;
        let now = self.clock.now();
        let mut start = now + self.lookahead_frames() + lead_in;
        if let Some(f) = &mut self.sync {
            // Start where the session's bar is at the same position as weft's.
            let sig = self.sched.time_sig();
            let tpb = sig.ticks_per_beat() as f64;
            let emitted = self.sched.emitted_to();
            let phase = (emitted - sig.bar_start(sig.bar_of(emitted))) as f64 / tpb;
            let quantum = sig.ticks_per_bar() as f64 / tpb;
            start = f.start_frame(now, self.clock.sample_rate(), start, phase, quantum);
        }
        self.sched
            .set_frame_offset(start.saturating_sub(resume_frame));
        self.playing = true;
        self.tell_transport();
    }

    /// Tells the outputs where the transport is (MIDI clock sends its pulses from this).
    fn tell_transport(&mut self) {
        if let Some(out) = self.out.as_mut() {
            let map = self.sched.tempo_map();
            let offset = self.sched.frame_offset();
            let frame_of = |t| map.tick_to_frame(t) + offset;
            out.transport(self.playing, self.sched.emitted_to(), &frame_of);
        }
    }

    /// Synced: take the session's tempo, or nudge the frame offset so that weft's next beat
    /// sounds where the session has it (see `super::sync`).
    fn follow_sync(&mut self) {
        let Some(f) = &mut self.sync else { return };
        let sig = self.sched.time_sig();
        let map = self.sched.tempo_map();
        let emitted = self.sched.emitted_to();
        let tpb = sig.ticks_per_beat();
        let next_beat = emitted.div_ceil(tpb) * tpb;
        let local = Local {
            now: self.clock.now(),
            bpm: map.bpm_at(next_beat),
            next_beat_frame: map.tick_to_frame(next_beat) + self.sched.frame_offset(),
            next_beat_phase: (next_beat - sig.bar_start(sig.bar_of(next_beat))) as f64 / tpb as f64,
            quantum: sig.ticks_per_bar() as f64 / tpb as f64,
        };
        let adjust = f.poll(local, self.clock.sample_rate());
        if let Some(bpm) = adjust.tempo {
            self.sched.lock_tempo(bpm.clamp(20.0, 400.0));
        }
        if adjust.shift != 0 {
            let offset = self.sched.frame_offset() as i64 + adjust.shift;
            self.sched.set_frame_offset(offset.max(0) as Frame);
        }
    }

    /// A MIDI clock master's Start / Continue / Stop (see `super::sync::Cue`).
    fn follow_cues(&mut self) {
        loop {
            let Some(f) = &mut self.sync else { return };
            match f.cue() {
                Some(Cue::Start | Cue::Continue) => self.start_transport(),
                Some(Cue::Stop) => self.stop_transport(),
                None => return,
            }
        }
    }

    fn stop_transport(&mut self) {
        if !self.playing {
            return;
        }
        let offs = self.sched.stop();
        self.deliver(offs);
        self.playing = false;
        self.tell_transport();
    }

    fn start_recording(&mut self, target: PathBuf) {
        let provenance = self.facts.provenance(self.cfg.seed);
        self.recordings.start(
            target,
            &self.sched,
            provenance,
            self.cfg.slow_disk,
            &self.reports,
        );
    }

    /// Reports the recordings whose files are written (all of them, waiting, when `wait`).
    fn collect_recordings(&mut self, wait: bool) {
        if let Some(p) = self.recordings.collect(wait, &self.reports) {
            self.facts.recorded = Some(p);
        }
    }

    /// Stops the recording and waits for every file to be written (shutdown).
    fn finish_recording(&mut self) {
        self.recordings.stop(&self.sched);
        self.collect_recordings(true);
    }

    fn append_session_log(&self) {
        if let Some(path) = &self.cfg.session_log {
            self.facts.append_log(path, &self.sched, &self.reports);
        }
    }

    fn deliver(&mut self, events: Vec<TimedEvent>) {
        if events.is_empty() && !self.recordings.is_recording() {
            return;
        }
        let now = self.clock.now();
        for e in &events {
            if e.frame < now {
                self.late += 1;
            }
            if let Event::NoteOn {
                track, key, vel, ..
            } = e.event
            {
                let name = self
                    .sched
                    .tracks()
                    .get(track as usize)
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                let file = name.split('.').next().unwrap_or("").to_string() + ".rhai";
                if let Some((v, t)) = self.awaiting_first.get(&file) {
                    let version = self
                        .sched
                        .files()
                        .iter()
                        .find(|f| f.0 == file)
                        .map_or(0, |f| f.1);
                    if version >= *v {
                        self.report(Report::FirstEvent {
                            file: file.clone(),
                            version,
                            at: *t,
                        });
                        self.awaiting_first.remove(&file);
                    }
                }
                self.status.played(RecentNote {
                    track: name,
                    tick: e.tick,
                    key,
                    vel,
                });
            }
        }
        if let Some(out) = self.out.as_mut() {
            self.dropped += out.send(&events) as u64;
        }
        self.recordings.feed(&events, &self.sched, &self.reports);
    }

    fn status(&self) -> super::Status {
        self.status.build(
            &self.sched,
            StatusInputs {
                now: self.clock.now(),
                playing: self.playing,
                lookahead: self.cfg.lookahead,
                late: self.late,
                dropped: self.dropped,
                errors: &self.errors,
                spectrum: self.features.last,
                features_dropped: self.features.dropped,
                recording: self.recordings.current(),
            },
        )
    }

    pub(super) fn run(&mut self, rx: Receiver<SchedMsg>) {
        let end_tick = self.cfg.bars.map(|b| self.sched.time_sig().bar_start(b));
        if self.cfg.realtime {
            self.report(Report::Info(match promote_to_realtime() {
                Ok(()) => format!(
                    "scheduler: real-time priority (SCHED_FIFO {REALTIME_PRIORITY})"
                ),
                Err(e) => format!(
                    "scheduler: normal priority (real-time not permitted: {e}); a busy machine may make notes late"
                ),
            }));
        }
        loop {
            // Wake on messages at once (low reload latency) or every 2 ms to keep ahead.
            match rx.recv_timeout(Duration::from_millis(2)) {
                Ok(m) => {
                    if !self.handle(m) {
                        break;
                    }
                    let more: Vec<SchedMsg> = rx.try_iter().collect();
                    let mut quit = false;
                    for m in more {
                        if !self.handle(m) {
                            quit = true;
                        }
                    }
                    if quit {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if self.stop.load(Ordering::SeqCst) {
                break;
            }
            self.features.run(&mut self.sched, &self.reports);
            if self.recordings.is_finishing() {
                self.collect_recordings(false);
            }
            self.follow_cues();
            if self.playing {
                self.follow_sync();
                let now = self.clock.now();
                let target =
                    (now + self.lookahead_frames()).saturating_sub(self.sched.frame_offset());
                let mut to = self.sched.tempo_map().frame_to_tick(target) + 1;
                if let Some(e) = end_tick {
                    to = to.min(e);
                }
                let events = self.sched.advance(to);
                let bar = self.sched.time_sig().bar_of(self.sched.emitted_to());
                crate::fault::scheduler_bar(bar);
                self.current_bar.store(bar, Ordering::Relaxed);
                for n in self.sched.take_notices() {
                    self.report(Report::Notice(n));
                }
                self.deliver(events);
                self.tell_transport();
                if self.late > self.late_reported
                    && self.status.last_sent.elapsed() > Duration::from_millis(500)
                {
                    self.report(Report::Late {
                        count: self.late - self.late_reported,
                    });
                    self.late_reported = self.late;
                }
                if self.dropped > self.dropped_reported {
                    self.report(Report::Dropped {
                        count: self.dropped - self.dropped_reported,
                    });
                    self.dropped_reported = self.dropped;
                }
                if let Some(e) = end_tick {
                    if self.sched.emitted_to() >= e {
                        // Let the last events sound before stopping.
                        let end_frame =
                            self.sched.tempo_map().tick_to_frame(e) + self.sched.frame_offset();
                        while self.clock.now() < end_frame && !self.stop.load(Ordering::SeqCst) {
                            thread::sleep(Duration::from_millis(2));
                        }
                        break;
                    }
                }
            }
            if self.cfg.status && self.status.due() {
                self.report(Report::Status(Box::new(self.status())));
            }
        }
        let offs = self.sched.stop();
        self.deliver(offs);
        if self.playing {
            self.playing = false;
            self.tell_transport();
        }
        self.finish_recording();
        self.append_session_log();
        self.report(Report::Stopped);
    }

    /// After a panic on this thread: stop the sounding notes if the scheduler can still say
    /// which, finish the recording (the journal has everything emitted so far), write the
    /// session log, and tell the performer what died. Each step is guarded on its own, so one
    /// that fails again does not prevent the others.
    pub(super) fn died(&mut self, thread: &str, message: String) {
        use std::panic::{catch_unwind, AssertUnwindSafe};
        self.playing = false;
        let _ = catch_unwind(AssertUnwindSafe(|| {
            let offs = self.sched.stop();
            self.deliver(offs);
        }));
        let _ = catch_unwind(AssertUnwindSafe(|| self.finish_recording()));
        let _ = catch_unwind(AssertUnwindSafe(|| self.append_session_log()));
        self.report(Report::Died {
            thread: thread.to_string(),
            message,
            music_stopped: true,
        });
        self.report(Report::Stopped);
    }
}

/// The SCHED_FIFO priority the scheduler thread asks for: above every normal thread (builds,
/// editors), below what audio servers such as JACK use for their own threads (70+).
pub const REALTIME_PRIORITY: i32 = 10;

/// Asks the OS to run the calling thread with real-time (SCHED_FIFO) scheduling, so a busy
/// machine does not delay planning past the lookahead. The thread sleeps between passes and
/// every patch callback has a deadline, so it never holds a core for long.
#[cfg(target_os = "linux")]
fn promote_to_realtime() -> Result<(), std::io::Error> {
    let param = libc::sched_param {
        sched_priority: REALTIME_PRIORITY,
    };
    // SAFETY: `pthread_self()` is the calling thread and `param` a valid sched_param.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(rc))
    }
}

#[cfg(not(target_os = "linux"))]
fn promote_to_realtime() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("not supported on this system"))
}
