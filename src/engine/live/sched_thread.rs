//! The scheduler thread: owns the [`Scheduler`], installs compiled patches at their quantize
//! ticks, emits events `lookahead` ahead of the [`Clock`] into the synth ring and the
//! recorder, runs analysis patches on feature frames, answers [`Command`]s and publishes
//! [`Report`]s. Everything it knows arrives as a [`SchedMsg`]; nothing else touches its state.

use super::*;

struct RecSession {
    rec: Recorder,
    t0: Tick,
    tracks_sent: usize,
    tempo_sent: usize,
    markers_sent: usize,
}

pub(super) struct SchedThread {
    cfg: LiveConfig,
    clock: Box<dyn Clock>,
    out: Option<Box<dyn EventOut>>,
    sched: Scheduler,
    reports: Sender<Report>,
    current_bar: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    playing: bool,
    rec: Option<RecSession>,
    /// Recordings told to stop whose files are still being written (off this thread).
    finishing: Vec<Recorder>,
    late: u64,
    late_reported: u64,
    dropped: u64,
    dropped_reported: u64,
    errors: HashMap<String, PatchError>,
    reload_ms: HashMap<String, f64>,
    awaiting_first: HashMap<String, (u32, Instant)>,
    recent: VecDeque<RecentNote>,
    last_status: Instant,
    hashes: HashMap<String, u64>,
    started: Instant,
    started_wall: std::time::SystemTime,
    played: std::collections::BTreeSet<String>,
    /// Provenance line of each LSTM model a loaded patch uses, by model name.
    models: std::collections::BTreeMap<String, String>,
    recorded: Option<PathBuf>,
    features: Option<Receiver<crate::analysis::Features>>,
    last_features: Option<crate::analysis::Features>,
    features_dropped: u64,
    feature_errors: HashMap<String, String>,
    /// (file, version) whose `on_features` ran away: not called again for that version.
    features_off: std::collections::HashSet<(String, u32)>,
    /// `on_features` deadline overruns in a row, by file.
    feature_overruns: HashMap<String, u8>,
    analyzer: Option<crate::analysis::live::Control>,
    /// `analyze(#{...})` requests of the loaded patches, with the install order.
    analyze_requests: HashMap<String, (u64, crate::patch::AnalyzeSpec)>,
    installs: u64,
    analyze_in_use: (usize, usize),
}

/// The feature map `on_features(f)` receives.
pub fn feature_map(f: &crate::analysis::Features) -> rhai::Map {
    let mut m = rhai::Map::new();
    let num = |x: f32| rhai::Dynamic::from_float(x as f64);
    m.insert("rms".into(), num(f.rms));
    m.insert("centroid".into(), num(f.centroid));
    m.insert("bandwidth".into(), num(f.bandwidth));
    m.insert("rolloff".into(), num(f.rolloff));
    m.insert("flatness".into(), num(f.flatness));
    m.insert("flux".into(), num(f.flux));
    m.insert("onset_strength".into(), num(f.onset_strength));
    m.insert("onset".into(), rhai::Dynamic::from_bool(f.onset));
    m.insert("bpm".into(), num(f.bpm));
    m.insert("time".into(), rhai::Dynamic::from_float(f.time));
    let chroma: rhai::Array = f.chroma.iter().map(|c| num(*c)).collect();
    m.insert("chroma".into(), chroma.into());
    m
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
        let (features, analyzer) = match features {
            Some(l) => (Some(l.frames), l.control),
            None => (None, None),
        };
        let mut sched = Scheduler::new(clock.sample_rate(), cfg.tempo.unwrap_or(120.0), steps);
        if let Some(t) = cfg.tempo {
            sched.lock_tempo(t);
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
            rec: None,
            finishing: Vec::new(),
            late: 0,
            late_reported: 0,
            dropped: 0,
            dropped_reported: 0,
            errors: HashMap::new(),
            reload_ms: HashMap::new(),
            awaiting_first: HashMap::new(),
            recent: VecDeque::new(),
            last_status: Instant::now(),
            hashes: HashMap::new(),
            started: Instant::now(),
            started_wall: std::time::SystemTime::now(),
            played: Default::default(),
            models: Default::default(),
            recorded: None,
            features,
            last_features: None,
            features_dropped: 0,
            feature_errors: HashMap::new(),
            features_off: Default::default(),
            feature_overruns: HashMap::new(),
            analyzer,
            analyze_requests: HashMap::new(),
            installs: 0,
            analyze_in_use: DEFAULT_ANALYSIS,
        }
    }

    /// Runs analysis patches on the feature frames that arrived. At most a few frames per
    /// pass are handed to scripts; the rest are dropped (counted) so the scheduler never
    /// falls behind.
    fn run_features(&mut self) {
        let Some(rx) = &self.features else { return };
        let frames: Vec<crate::analysis::Features> = rx.try_iter().collect();
        if frames.is_empty() {
            return;
        }
        const MAX_PER_PASS: usize = 4;
        let skip = frames.len().saturating_sub(MAX_PER_PASS);
        self.features_dropped += skip as u64;
        // Each analysis patch with the features it asked for (None = all).
        let files: Vec<(String, Option<Vec<String>>)> = self
            .sched
            .files()
            .into_iter()
            .filter_map(|(f, _)| {
                let p = self.sched.patch(&f).filter(|p| p.has_on_features())?;
                let wanted = p.analyze_spec().and_then(|s| s.features);
                Some((f, wanted))
            })
            .collect();
        for f in &frames[skip..] {
            for (file, wanted) in &files {
                let mut map = feature_map(f);
                if let Some(keys) = wanted {
                    map.retain(|k, _| keys.iter().any(|w| w == k.as_str()));
                }
                let version = self
                    .sched
                    .files()
                    .iter()
                    .find(|f| &f.0 == file)
                    .map_or(0, |f| f.1);
                if self.features_off.contains(&(file.clone(), version)) {
                    continue;
                }
                let Some(p) = self.sched.patch_mut(file) else {
                    continue;
                };
                match p.on_features(map) {
                    Ok(params) => {
                        self.feature_overruns.remove(file);
                        self.feature_errors.remove(file);
                        if !params.is_empty() {
                            self.sched.apply_params(file, &params);
                        }
                    }
                    Err(mut e) => {
                        // Each frame would cost the whole budget again: off after a limit that
                        // recurs, or after two deadline overruns in a row.
                        let stop = p.last_stop();
                        let overruns = self.feature_overruns.entry(file.clone()).or_default();
                        let off = match stop {
                            Some(s) if s.recurs() => true,
                            Some(_) => {
                                *overruns += 1;
                                *overruns >= 2
                            }
                            None => false,
                        };
                        if off {
                            self.features_off.insert((file.clone(), version));
                            e.message.push_str(crate::patch::CALLBACK_OFF);
                        }
                        let msg = e.to_string();
                        if self.feature_errors.get(file) != Some(&msg) {
                            self.feature_errors.insert(file.clone(), msg);
                            let bar = self.sched.time_sig().bar_of(self.sched.emitted_to());
                            self.report(Report::Notice(Notice::RuntimeError { error: e, bar }));
                        }
                    }
                }
            }
        }
        self.last_features = frames.last().copied();
    }

    fn report(&self, r: Report) {
        let _ = self.reports.send(r);
    }

    /// Points the live analyzer at the settings of the most recently installed patch that
    /// asks for some (or the defaults), reporting each change once.
    fn update_analysis(&mut self) {
        let Some(ctl) = &self.analyzer else { return };
        let latest = self
            .analyze_requests
            .iter()
            .max_by_key(|(_, (order, _))| *order)
            .map(|(file, (_, spec))| (file.clone(), (spec.fft, spec.hop)));
        let (file, wanted) = match latest {
            Some((f, s)) => (Some(f), s),
            None => (None, DEFAULT_ANALYSIS),
        };
        if wanted == self.analyze_in_use {
            return;
        }
        ctl.set(wanted.0, wanted.1);
        self.analyze_in_use = wanted;
        self.report(Report::Analysis {
            fft: wanted.0,
            hop: wanted.1,
            file,
        });
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
                self.hashes.insert(file.clone(), patch.source_hash());
                // A new version starts with its callbacks on.
                self.features_off.retain(|(f, _)| f != &file);
                self.feature_overruns.remove(&file);
                self.played.insert(file.clone());
                self.models.extend(models);
                self.installs += 1;
                match patch.analyze_spec() {
                    Some(spec) => {
                        self.analyze_requests
                            .insert(file.clone(), (self.installs, spec));
                    }
                    None => {
                        self.analyze_requests.remove(&file);
                    }
                }
                let tick = self.sched.install(&file, *patch);
                self.update_analysis();
                self.errors.remove(&file);
                if let Some(ms) = ready_ms {
                    self.reload_ms.insert(file.clone(), ms);
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
                self.analyze_requests.remove(&f);
                self.update_analysis();
            }
            SchedMsg::Renamed(a, b) => {
                if let Some(e) = self.errors.remove(&a) {
                    self.errors.insert(b.clone(), e);
                }
                if let Some(r) = self.analyze_requests.remove(&a) {
                    self.analyze_requests.insert(b.clone(), r);
                }
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
                Command::TogglePlay => {
                    if self.playing {
                        self.stop_transport();
                    } else {
                        self.start_transport();
                    }
                }
                Command::ToggleRecord => {
                    if self.rec.is_some() {
                        self.stop_recording();
                    } else {
                        let t = crate::record::default_target(&self.cfg.record_dir);
                        self.start_recording(t);
                    }
                }
                Command::TempoDelta(d) => {
                    let bpm = (self.sched.tempo_map().bpm_at(self.sched.emitted_to()) + d)
                        .clamp(20.0, 400.0);
                    self.sched.set_tempo_at_next_beat(bpm);
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
        let start = self.clock.now() + self.lookahead_frames() + lead_in;
        self.sched
            .set_frame_offset(start.saturating_sub(resume_frame));
        self.playing = true;
    }

    fn stop_transport(&mut self) {
        if !self.playing {
            return;
        }
        let offs = self.sched.stop();
        self.deliver(offs);
        self.playing = false;
    }

    fn start_recording(&mut self, target: PathBuf) {
        let mut prov_patches: Vec<(String, u64)> =
            self.hashes.iter().map(|(k, v)| (k.clone(), *v)).collect();
        prov_patches.sort();
        let opts = RecordOptions {
            target,
            time_sig: self.sched.time_sig(),
            provenance: provenance(
                &prov_patches,
                self.cfg.seed,
                &self.models.values().cloned().collect::<Vec<_>>(),
            ),
            slow_disk: self.cfg.slow_disk,
        };
        match Recorder::start(opts) {
            Ok(rec) => {
                self.report(Report::RecordingStarted(rec.target.clone()));
                let t0 = self.sched.emitted_to();
                let bpm = self.sched.tempo_map().bpm_at(t0);
                rec.send(RecordMsg::Tempo(0, bpm));
                rec.send(RecordMsg::Marker(0, "start".into()));
                let tempo_sent = self
                    .sched
                    .tempo_map()
                    .changes()
                    .iter()
                    .filter(|c| c.0 <= t0)
                    .count();
                let markers_sent = self.sched.markers().iter().filter(|m| m.0 < t0).count();
                self.rec = Some(RecSession {
                    rec,
                    t0,
                    tracks_sent: 0,
                    tempo_sent,
                    markers_sent,
                });
            }
            Err(e) => self.report(Report::RecordingFailed(e.to_string())),
        }
    }

    fn feed_recorder(&mut self, events: &[TimedEvent]) {
        let Some(rs) = self.rec.as_mut() else { return };
        let tracks = self.sched.tracks();
        if tracks.len() > rs.tracks_sent {
            rs.rec
                .send(RecordMsg::Tracks(tracks[rs.tracks_sent..].to_vec()));
            rs.tracks_sent = tracks.len();
        }
        let changes = self.sched.tempo_map().changes();
        for (t, bpm) in changes.iter().skip(rs.tempo_sent) {
            rs.rec.send(RecordMsg::Tempo(t.saturating_sub(rs.t0), *bpm));
        }
        rs.tempo_sent = changes.len().max(rs.tempo_sent);
        let markers = self.sched.markers();
        for (t, m) in markers.iter().skip(rs.markers_sent) {
            rs.rec
                .send(RecordMsg::Marker(t.saturating_sub(rs.t0), m.clone()));
        }
        rs.markers_sent = markers.len();
        if !events.is_empty() {
            let shifted: Vec<TimedEvent> = events
                .iter()
                .filter(|e| e.tick >= rs.t0)
                .map(|e| TimedEvent {
                    tick: e.tick - rs.t0,
                    ..*e
                })
                .collect();
            if !rs.rec.send(RecordMsg::Events(shifted)) {
                let rs = self.rec.take().expect("recording");
                let err = rs
                    .rec
                    .finish(0)
                    .err()
                    .map_or("recorder stopped".to_string(), |e| e.to_string());
                self.report(Report::RecordingFailed(err));
            }
        }
    }

    /// Tells the recording to stop; its file is written on the recorder's thread and reported
    /// by [`SchedThread::collect_recordings`] when it is done.
    fn stop_recording(&mut self) {
        let Some(rs) = self.rec.take() else {
            return;
        };
        let end = self.sched.emitted_to().saturating_sub(rs.t0);
        // Notes still sounding are closed at `end` by the recorder when it writes the file.
        rs.rec.send(RecordMsg::Marker(end, "stop".into()));
        rs.rec.request_stop(end);
        self.finishing.push(rs.rec);
    }

    /// Reports the recordings whose files are written (all of them, waiting, when `wait`).
    fn collect_recordings(&mut self, wait: bool) {
        let (done, busy): (Vec<Recorder>, Vec<Recorder>) = std::mem::take(&mut self.finishing)
            .into_iter()
            .partition(|r| wait || r.is_done());
        self.finishing = busy;
        for rec in done {
            match rec.finish(0) {
                Ok(f) => {
                    self.recorded = Some(f.path.clone());
                    self.report(Report::RecordingFinished {
                        path: f.path,
                        notes: f.notes,
                        max_backlog: f.max_backlog,
                    })
                }
                Err(e) => self.report(Report::RecordingFailed(e.to_string())),
            }
        }
    }

    /// Stops the recording and waits for every file to be written (shutdown).
    fn finish_recording(&mut self) {
        self.stop_recording();
        self.collect_recordings(true);
    }

    fn deliver(&mut self, events: Vec<TimedEvent>) {
        if events.is_empty() && self.rec.is_none() {
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
                self.recent.push_back(RecentNote {
                    track: name,
                    tick: e.tick,
                    key,
                    vel,
                });
                if self.recent.len() > 256 {
                    self.recent.pop_front();
                }
            }
        }
        if let Some(out) = self.out.as_mut() {
            self.dropped += out.send(&events) as u64;
        }
        self.feed_recorder(&events);
    }

    fn status(&self) -> Status {
        let tick = if self.playing {
            let f = self.clock.now().saturating_sub(self.sched.frame_offset());
            self.sched
                .tempo_map()
                .frame_to_tick(f)
                .min(self.sched.emitted_to())
        } else {
            self.sched.emitted_to()
        };
        let sig = self.sched.time_sig();
        let (bar, beat) = sig.bar_beat(tick);
        let phase = ((tick % sig.ticks_per_beat()) as f32) / sig.ticks_per_beat() as f32;
        let pending: HashMap<String, Tick> = self.sched.pending().into_iter().collect();
        let mut names: Vec<String> = self.sched.files().into_iter().map(|f| f.0).collect();
        names.extend(self.errors.keys().cloned());
        names.extend(pending.keys().cloned());
        names.sort();
        names.dedup();
        let files = names
            .into_iter()
            .map(|f| {
                let version = self
                    .sched
                    .files()
                    .iter()
                    .find(|x| x.0 == f)
                    .map_or(0, |x| x.1);
                FileStatus {
                    playing: version > 0,
                    version,
                    pending_bar: pending.get(&f).map(|t| sig.bar_of(*t)),
                    error: self.errors.get(&f).cloned(),
                    last_reload_ms: self.reload_ms.get(&f).copied(),
                    file: f,
                }
            })
            .collect();
        Status {
            playing: self.playing,
            tempo: self.sched.tempo_map().bpm_at(tick),
            tick,
            bar,
            beat,
            beat_phase: phase,
            time_sig: (sig.num, sig.den),
            lookahead_ms: self.cfg.lookahead.as_secs_f64() * 1000.0,
            late_events: self.late,
            dropped_events: self.dropped,
            files,
            tracks: self
                .sched
                .tracks()
                .iter()
                .map(|t| {
                    (
                        t.clone(),
                        self.sched.is_muted(&t.name),
                        self.sched.is_soloed(&t.name),
                    )
                })
                .collect(),
            recent: self.recent.iter().cloned().collect(),
            spectrum: self.last_features,
            features_dropped: self.features_dropped,
            lstm_top: self.lstm_top(),
            recording: self
                .rec
                .as_ref()
                .map(|r| (r.rec.target.clone(), r.rec.started.elapsed().as_secs_f64())),
        }
    }

    fn lstm_top(&self) -> Vec<(String, Vec<(String, f32)>)> {
        let mut out = Vec::new();
        for (file, _) in self.sched.files() {
            let Some(p) = self.sched.patch(&file) else {
                continue;
            };
            let stem = file.strip_suffix(".rhai").unwrap_or(&file).to_string();
            for v in p.base_voices() {
                if matches!(v.source, crate::patch::Source::Lstm(_)) {
                    if let Some(top) = self.sched.lstm_top(p.display_name(), &v.name, 5) {
                        out.push((format!("{stem}.{}", v.name), top));
                    }
                }
            }
        }
        out
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
            self.run_features();
            if !self.finishing.is_empty() {
                self.collect_recordings(false);
            }
            if self.playing {
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
                if self.late > self.late_reported
                    && self.last_status.elapsed() > Duration::from_millis(500)
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
            if self.cfg.status && self.last_status.elapsed() >= Duration::from_millis(33) {
                self.last_status = Instant::now();
                self.report(Report::Status(Box::new(self.status())));
            }
        }
        let offs = self.sched.stop();
        self.deliver(offs);
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

    /// One line per performance in weft's own session log (a format `weft recommend` reads).
    fn append_session_log(&self) {
        let Some(path) = &self.cfg.session_log else {
            return;
        };
        let secs = self
            .started_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let (y, mo, d, h, mi, s) = crate::record::civil(secs);
        let tempos: Vec<f64> = self
            .sched
            .tempo_map()
            .changes()
            .iter()
            .map(|c| c.1)
            .collect();
        let mut line = crate::logs::session::SessionLogLine::new(
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
            self.started.elapsed().as_secs_f64(),
            self.played.iter().cloned().collect(),
        );
        line.models = self.models.keys().cloned().collect();
        line.tempo_min = tempos.iter().copied().reduce(f64::min);
        line.tempo_max = tempos.iter().copied().reduce(f64::max);
        line.file = self.recorded.as_ref().map(|p| p.display().to_string());
        if let Err(e) = crate::logs::session::append_session_log(path, &line) {
            self.report(Report::RecordingFailed(format!(
                "session log {}: {e}",
                path.display()
            )));
        }
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
