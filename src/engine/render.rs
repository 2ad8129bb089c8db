//! Headless rendering: patches → scheduler → events → MIDI file, faster than real time.
//!
//! The same scheduler and MIDI writer as live play, driven by a loop instead of a clock, so
//! the output is a pure function of (patch sources, seed, tempo): byte-identical across runs
//! and machines.

use crate::engine::event::{Tick, TimedEvent};
use crate::engine::scheduler::{Notice, Scheduler};
use crate::patch::{LoadOptions, LstmSpec, Patch, PatchError, StepSource, VoiceSpec};
use crate::record::smf::SessionMidi;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// Most bars `weft render` and `weft check` take (about 55 hours at 120 BPM in 4/4).
pub const MAX_BARS: u64 = 100_000;
/// Most events one render holds in memory (a dense patch over many bars reaches it first).
pub const MAX_EVENTS: usize = 4_000_000;
/// Bars rendered between two checks of [`MAX_EVENTS`]: one, because a single bar can hold
/// 64 voices × 4,096 events (a check every 64 bars let a dense patch reach 1.6 GB first).
const CHUNK_BARS: u64 = 1;

#[derive(Debug, Error)]
pub enum RenderError {
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error("--bars must be at least 1")]
    NoBars,
    #[error("--bars {0} is more than {MAX_BARS}")]
    TooManyBars(u64),
    #[error("the render passed {MAX_EVENTS} events by bar {bar} (of {bars}); render fewer --bars")]
    TooManyEvents { bar: u64, bars: u64 },
    #[error("{out}: is also an input ({input}); weft will not write over it")]
    OutputIsInput { out: String, input: String },
    #[error("{0} exists and is not a WAV file; weft will not overwrite it")]
    NotWav(String),
    #[error(transparent)]
    Smf(#[from] crate::record::smf::SmfError),
}

/// Checks a `--bars` count against `1..=MAX_BARS`.
pub fn check_bars(bars: u64) -> Result<(), RenderError> {
    match bars {
        0 => Err(RenderError::NoBars),
        b if b > MAX_BARS => Err(RenderError::TooManyBars(b)),
        _ => Ok(()),
    }
}

/// Refuses an output path that is one of the inputs (the same file, by device and inode, so
/// another spelling or a link to it counts too).
pub fn check_not_input(out: &Path, inputs: &[PathBuf]) -> Result<(), RenderError> {
    use std::os::unix::fs::MetadataExt;
    let Ok(o) = std::fs::metadata(out) else {
        return Ok(());
    };
    for input in inputs {
        if let Ok(i) = std::fs::metadata(input) {
            if (i.dev(), i.ino()) == (o.dev(), o.ino()) {
                return Err(RenderError::OutputIsInput {
                    out: out.display().to_string(),
                    input: input.display().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Checks `-o`: not an input, and only an existing MIDI file may be replaced.
pub fn check_midi_output(out: &Path, inputs: &[PathBuf]) -> Result<(), RenderError> {
    check_not_input(out, inputs)?;
    crate::record::smf::check_replaceable(out)?;
    Ok(())
}

/// Checks `--wav`: not an input (nor the MIDI output), and only an existing WAV file (one that
/// starts with `RIFF`) may be replaced.
pub fn check_wav_output(wav: &Path, taken: &[PathBuf]) -> Result<(), RenderError> {
    check_not_input(wav, taken)?;
    let Ok(meta) = std::fs::metadata(wav) else {
        return Ok(());
    };
    let mut head = [0u8; 4];
    let is_wav = meta.is_file()
        && std::fs::File::open(wav)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
        && &head == b"RIFF";
    if is_wav {
        Ok(())
    } else {
        Err(RenderError::NotWav(wav.display().to_string()))
    }
}

/// The step source of a render, noting the first error it gives (a missing or broken
/// model): live play falls back and plays on, but a render with a voice that cannot play is
/// not the piece the patch describes, so the render fails with it.
struct Watched {
    inner: Box<dyn StepSource + Send>,
    failed: Arc<Mutex<Option<(String, String)>>>,
}

impl StepSource for Watched {
    fn steps(
        &mut self,
        file: &str,
        voice: &VoiceSpec,
        spec: &LstmSpec,
        n: usize,
    ) -> Result<Vec<Option<(u8, u32)>>, String> {
        let r = self.inner.steps(file, voice, spec, n);
        if let Err(m) = &r {
            let mut f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
            f.get_or_insert_with(|| (file.to_string(), m.clone()));
        }
        r
    }

    fn top_k(&self, file: &str, voice: &str, k: usize) -> Option<Vec<(String, f32)>> {
        self.inner.top_k(file, voice, k)
    }
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
    render_with_samples(spec, steps, None)
}

/// [`render`] with the `--samples` folder the patches search for sample folders.
pub fn render_with_samples(
    spec: &RenderSpec,
    steps: Box<dyn StepSource + Send>,
    samples: Option<&Path>,
) -> Result<Rendered, RenderError> {
    check_bars(spec.bars)?;
    let failed = Arc::new(Mutex::new(None));
    let steps = Box::new(Watched {
        inner: steps,
        failed: failed.clone(),
    });
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
            samples: samples.map(Path::to_path_buf),
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
    let mut events = Vec::new();
    let mut bar = 0;
    while bar < spec.bars {
        bar = (bar + CHUNK_BARS).min(spec.bars);
        let to = if bar == spec.bars {
            end
        } else {
            sched.time_sig().bar_start(bar).min(end)
        };
        events.extend(sched.advance(to));
        if failed.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            break;
        }
        if events.len() > MAX_EVENTS {
            return Err(RenderError::TooManyEvents {
                bar,
                bars: spec.bars,
            });
        }
    }
    let notices = sched.take_notices();
    if let Some((file, message)) = failed.lock().unwrap_or_else(|e| e.into_inner()).take() {
        // The scheduler's report of it carries the patch's location.
        let located = notices.iter().find_map(|n| match n {
            Notice::RuntimeError { error, .. }
                if error.path == file && error.message.contains(&message) =>
            {
                Some(error.clone())
            }
            _ => None,
        });
        return Err(located
            .unwrap_or(PatchError {
                path: file,
                line: 0,
                col: 0,
                message,
            })
            .into());
    }
    events.extend(sched.stop());
    sched.mark("stop");
    let mut notices = notices;
    notices.extend(sched.take_notices());
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
