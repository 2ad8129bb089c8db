//! Headless rendering: patches → scheduler → events → MIDI file, faster than real time.
//!
//! The same scheduler and MIDI writer as live play, driven by a loop instead of a clock, so
//! the output is a pure function of (patch sources, seed, tempo): byte-identical across runs
//! and machines.

use crate::event::{Tick, TimedEvent};
use crate::patch::{LoadOptions, Patch, PatchError, StepSource};
use crate::scheduler::{Notice, Scheduler};
use crate::smf::SessionMidi;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RenderError {
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error("--bars must be at least 1")]
    NoBars,
    #[error(transparent)]
    Smf(#[from] crate::smf::SmfError),
}

/// What to render.
#[derive(Clone, Debug)]
pub struct RenderSpec {
    pub patches: Vec<PathBuf>,
    pub bars: u64,
    pub seed: u64,
    /// Fixed tempo (overrides the patches' `tempo()`).
    pub tempo: Option<f64>,
    pub sample_rate: u32,
}

/// The result of a render: the events with their frames, and the MIDI file they make.
#[derive(Debug)]
pub struct Rendered {
    pub events: Vec<TimedEvent>,
    pub midi: SessionMidi,
    /// Total length in frames (the end of the last bar).
    pub frames: u64,
    pub end_tick: Tick,
    /// Lines the patches printed and runtime errors they hit.
    pub notices: Vec<Notice>,
}

/// Provenance lines for the MIDI file: weft version, patch names with content hashes, seed.
pub fn provenance(patches: &[(String, u64)], seed: u64, extra: &[String]) -> Vec<String> {
    let mut out = vec![format!("weft {}", env!("CARGO_PKG_VERSION"))];
    for (name, hash) in patches {
        out.push(format!("patch {name} fnv1a:{hash:016x}"));
    }
    out.push(format!("seed {seed}"));
    out.extend(extra.iter().cloned());
    out
}

/// Renders `spec.bars` bars of the patches.
pub fn render(
    spec: &RenderSpec,
    steps: Box<dyn StepSource + Send>,
) -> Result<Rendered, RenderError> {
    if spec.bars == 0 {
        return Err(RenderError::NoBars);
    }
    let mut sched = Scheduler::new(spec.sample_rate, spec.tempo.unwrap_or(120.0), steps);
    if let Some(t) = spec.tempo {
        sched.lock_tempo(t);
    }
    let mut hashes = Vec::new();
    let mut first_sig = None;
    for path in &spec.patches {
        let name = file_name(path);
        let opts = LoadOptions {
            seed: spec.seed,
            ..Default::default()
        };
        let mut patch = Patch::load_file(path, opts)?;
        // Errors are reported against the name the user typed.
        patch.start()?;
        first_sig.get_or_insert(patch.time_sig());
        hashes.push((name.clone(), patch.source_hash()));
        sched.install(&name, patch);
    }
    if let Some(sig) = first_sig {
        sched.set_time_sig(sig);
    }
    let end = sched.time_sig().bar_start(spec.bars);
    sched.mark("start");
    let mut events = sched.advance(end);
    events.extend(sched.stop());
    sched.mark("stop");
    let notices = sched.take_notices();
    let midi = SessionMidi::from_events(
        sched.tempo_map(),
        sched.time_sig(),
        sched.tracks(),
        &events,
        sched.markers(),
        provenance(&hashes, spec.seed, &[]),
        end,
    );
    Ok(Rendered {
        frames: sched.tempo_map().tick_to_frame(end),
        events,
        midi,
        end_tick: end,
        notices,
    })
}

/// The name a patch file goes by in tracks, markers and messages.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
