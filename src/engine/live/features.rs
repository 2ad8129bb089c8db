//! Feature dispatch on the scheduler thread: the live analyzer's frames → the patches'
//! `on_features(f)` callbacks (their `param(...)` calls become parameter changes), and the
//! patches' `analyze(#{fft, hop})` requests → the analyzer's frame settings.
//!
//! At most [`MAX_PER_PASS`] frames per pass reach scripts; the rest are dropped and counted,
//! so the scheduler never falls behind. A callback that runs away (a limit that recurs, or two
//! deadline overruns in a row) is switched off for that version of its file.

use super::{FeatureLink, Report, DEFAULT_ANALYSIS};
use crate::analysis::live::AnalyzerControl;
use crate::analysis::Features;
use crate::engine::scheduler::{Notice, Scheduler};
use crate::patch::AnalyzeSpec;
use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{Receiver, Sender};

/// Frames handed to scripts per pass of the scheduler loop.
pub(super) const MAX_PER_PASS: usize = 4;

/// The feature map `on_features(f)` receives.
pub fn feature_map(f: &Features) -> rhai::Map {
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

/// The scheduler thread's end of the link with the live analyzer.
#[derive(Default)]
pub(super) struct FeatureDispatch {
    frames: Option<Receiver<Features>>,
    /// The latest frame (for the spectrum pane) and frames dropped because scripts were slow.
    pub(super) last: Option<Features>,
    pub(super) dropped: u64,
    errors: HashMap<String, String>,
    /// (file, version) whose `on_features` ran away: not called again for that version.
    off: HashSet<(String, u32)>,
    /// `on_features` deadline overruns in a row, by file.
    overruns: HashMap<String, u8>,
    analyzer: Option<AnalyzerControl>,
    /// `analyze(#{...})` requests of the loaded patches, with the install order.
    requests: HashMap<String, (u64, AnalyzeSpec)>,
    installs: u64,
    in_use: (usize, usize),
}

impl FeatureDispatch {
    pub(super) fn new(link: Option<FeatureLink>) -> FeatureDispatch {
        let (frames, analyzer) = match link {
            Some(l) => (Some(l.frames), l.control),
            None => (None, None),
        };
        FeatureDispatch {
            frames,
            analyzer,
            in_use: DEFAULT_ANALYSIS,
            ..Default::default()
        }
    }

    /// A new version of `file` was installed: its callbacks are on again, and its
    /// `analyze(...)` request (if any) is the most recent one.
    pub(super) fn installed(&mut self, file: &str, spec: Option<AnalyzeSpec>) {
        self.off.retain(|(f, _)| f != file);
        self.overruns.remove(file);
        self.installs += 1;
        match spec {
            Some(spec) => {
                self.requests
                    .insert(file.to_string(), (self.installs, spec));
            }
            None => {
                self.requests.remove(file);
            }
        }
    }

    pub(super) fn removed(&mut self, file: &str) {
        self.requests.remove(file);
    }

    pub(super) fn renamed(&mut self, from: &str, to: &str) {
        if let Some(r) = self.requests.remove(from) {
            self.requests.insert(to.to_string(), r);
        }
    }

    /// Points the live analyzer at the settings of the most recently installed patch that
    /// asks for some (or the defaults), reporting each change once.
    pub(super) fn update_analysis(&mut self, reports: &Sender<Report>) {
        let Some(ctl) = &self.analyzer else { return };
        let latest = self
            .requests
            .iter()
            .max_by_key(|(_, (order, _))| *order)
            .map(|(file, (_, spec))| (file.clone(), (spec.fft, spec.hop)));
        let (file, wanted) = match latest {
            Some((f, s)) => (Some(f), s),
            None => (None, DEFAULT_ANALYSIS),
        };
        if wanted == self.in_use {
            return;
        }
        ctl.set(wanted.0, wanted.1);
        self.in_use = wanted;
        let _ = reports.send(Report::Analysis {
            fft: wanted.0,
            hop: wanted.1,
            file,
        });
    }

    /// Runs analysis patches on the feature frames that arrived. At most [`MAX_PER_PASS`]
    /// frames per pass are handed to scripts; the rest are dropped (counted) so the scheduler
    /// never falls behind.
    pub(super) fn run(&mut self, sched: &mut Scheduler, reports: &Sender<Report>) {
        let Some(rx) = &self.frames else { return };
        let frames: Vec<Features> = rx.try_iter().collect();
        if frames.is_empty() {
            return;
        }
        let skip = frames.len().saturating_sub(MAX_PER_PASS);
        self.dropped += skip as u64;
        // Each analysis patch with the features it asked for (None = all).
        let files: Vec<(String, Option<Vec<String>>)> = sched
            .files()
            .into_iter()
            .filter_map(|(f, _)| {
                let p = sched.patch(&f).filter(|p| p.has_on_features())?;
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
                let version = sched
                    .files()
                    .iter()
                    .find(|f| &f.0 == file)
                    .map_or(0, |f| f.1);
                if self.off.contains(&(file.clone(), version)) {
                    continue;
                }
                let Some(p) = sched.patch_mut(file) else {
                    continue;
                };
                match p.on_features(map) {
                    Ok(params) => {
                        self.overruns.remove(file);
                        self.errors.remove(file);
                        if !params.is_empty() {
                            sched.apply_params(file, &params);
                        }
                    }
                    Err(mut e) => {
                        // Each frame would cost the whole budget again: off after a limit that
                        // recurs, or after two deadline overruns in a row.
                        let stop = p.last_stop();
                        let overruns = self.overruns.entry(file.clone()).or_default();
                        let off = match stop {
                            Some(s) if s.recurs() => true,
                            Some(_) => {
                                *overruns += 1;
                                *overruns >= 2
                            }
                            None => false,
                        };
                        if off {
                            self.off.insert((file.clone(), version));
                            e.message.push_str(crate::patch::CALLBACK_OFF);
                        }
                        let msg = e.to_string();
                        if self.errors.get(file) != Some(&msg) {
                            self.errors.insert(file.clone(), msg);
                            let bar = sched.time_sig().bar_of(sched.emitted_to());
                            let _ = reports
                                .send(Report::Notice(Notice::RuntimeError { error: e, bar }));
                        }
                    }
                }
            }
        }
        self.last = frames.last().copied();
    }
}
