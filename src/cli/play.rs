//! `weft play [DIR]` (and `weft` alone): the live session, headless or with the screen.
//! Arguments → journal recovery → [`crate::engine::session::Session`] → exit status.

use crate::engine::live::LiveConfig;
use crate::engine::session::{
    Ending, MidiSetup, OutputsConfig, ScreenConfig, Session, SessionConfig,
};
use crate::neural::voices::models_dir_for;
use anyhow::bail;
use clap::{Args, Parser};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct PlayArgs {
    /// Folder of patches to watch.
    #[arg(default_value = "scripts")]
    pub dir: PathBuf,
    /// No screen: log to stderr.
    #[arg(long)]
    pub headless: bool,
    /// Record everything played to this MIDI file.
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Folder for recordings started with `r`.
    #[arg(long, default_value = "recordings")]
    pub record_dir: PathBuf,
    /// Stop after N bars.
    #[arg(long)]
    pub bars: Option<u64>,
    /// How far ahead the scheduler works, in milliseconds.
    #[arg(long, default_value_t = 50)]
    pub lookahead: u64,
    /// Seed for prob, `?`, `|` and rand(): the same seed plays the same notes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fixed tempo in BPM, 20..400 (overrides the patches' tempo()).
    #[arg(long, value_parser = crate::engine::transport::parse_bpm)]
    pub tempo: Option<f64>,
    /// Do not open an audio device: run on the silent real-time clock.
    #[arg(long)]
    pub null_audio: bool,
    /// Audio output device name (see `weft devices`).
    #[arg(long)]
    pub device: Option<String>,
    /// Audio host: `jack` plays through a running JACK server (default: the system's,
    /// ALSA on Linux).
    #[arg(long)]
    pub host: Option<String>,
    /// With `--host jack`: do not connect weft's output ports to `system:playback_*`.
    #[arg(long)]
    pub no_connect: bool,
    /// Send every note to SuperDirt as `/dirt/play` OSC bundles (HOST:PORT; without a value
    /// 127.0.0.1:57120).
    #[arg(long, num_args = 0..=1, default_missing_value = crate::outputs::osc::DEFAULT_TARGET)]
    pub osc_out: Option<String>,
    /// Follow a shared tempo and bar phase: `link` joins the Ableton Link session on the
    /// network (needs a weft built with `--features link`); `midi` follows an incoming MIDI
    /// clock (tempo, start/stop) on `weft:midi_in`, `midi:PORT` connects that from the first
    /// MIDI output whose name contains PORT.
    #[arg(long, value_name = "SOURCE")]
    pub sync: Option<String>,
    /// Listening logs (file or folder) for the recommend and forecast panes.
    #[arg(long)]
    pub logs: Option<PathBuf>,
    /// Whose recommendations the pane shows (default: the most active user).
    #[arg(long)]
    pub user: Option<String>,
    /// Folder of LSTM models, searched after the patch folder and its parent (also
    /// WEFT_MODELS; weft's installed data comes last).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Folder of samples and the GM SoundFont, searched after the patch folder and its
    /// parent (also WEFT_SAMPLES; weft's installed data comes last).
    #[arg(long, value_name = "DIR")]
    pub samples: Option<PathBuf>,
    /// Send notes as MIDI: to the first port whose name contains NAME, or to a new port
    /// `weft:midi_out` (NAME `weft`, or no match). JACK MIDI (a JACK server must run).
    #[arg(long, value_name = "NAME")]
    pub midi_out: Option<String>,
    /// Send MIDI clock (24 per beat, start/stop/continue, song position) on the MIDI out
    /// (`weft:midi_out` when --midi-out is not given).
    #[arg(long)]
    pub midi_clock: bool,
}

/// `weft` with no command: `weft play scripts` with the screen.
#[derive(Parser, Debug)]
pub struct DefaultPlay {
    #[command(flatten)]
    pub play: PlayArgs,
}

/// The sample folder the first patch of `dir` (by name) that calls `samples("path")` names.
fn start_bank(dir: &std::path::Path, flag: Option<&std::path::Path>) -> Option<PathBuf> {
    let mut patches: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    patches.sort();
    patches.iter().find_map(|p| {
        let opts = crate::patch::LoadOptions {
            samples: flag.map(|f| f.to_path_buf()),
            ..Default::default()
        };
        crate::patch::Patch::load_file(p, opts).ok()?.samples_dir()
    })
}

/// Folders whose saved sounds the "sounds like" list ranks: the samples folder found for
/// the patches (see `sound::synth::sounds_for`) and the recordings folder.
fn likeness_dirs(samples: &std::path::Path, recordings: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if samples.is_dir() {
        dirs.push(samples.to_path_buf());
    }
    dirs.push(recordings.to_path_buf());
    dirs
}

/// `--sync SOURCE`: (Ableton Link, MIDI clock with an optional port), or why not.
fn parse_sync(source: Option<&str>) -> anyhow::Result<(bool, Option<Option<String>>)> {
    Ok(match source {
        None => (false, None),
        Some("link") if cfg!(feature = "link") => (true, None),
        Some("link") => anyhow::bail!(
            "--sync link: this weft was built without Ableton Link; build it with `cargo install --path . --features link` (needs cmake and libclang-dev; Link is GPL, so that binary is too)"
        ),
        Some("midi") => (false, Some(None)),
        Some(s) if s.starts_with("midi:") && s.len() > 5 => (false, Some(Some(s[5..].to_string()))),
        Some(other) => {
            anyhow::bail!("--sync {other}: unknown source (weft follows `link`, `midi` or `midi:PORT`)")
        }
    })
}

/// Recovers journals left by a crash, then runs the session ([`Session`]) and turns how it
/// ended into the exit status.
pub fn run(mut a: PlayArgs) -> anyhow::Result<ExitCode> {
    if !a.dir.is_dir() {
        bail!("{}: no such folder of patches", a.dir.display());
    }
    if a.bars == Some(0) {
        bail!("--bars must be at least 1");
    }
    // Journals left by a crash become MIDI files before anything else happens.
    let mut dirs = vec![a.record_dir.clone()];
    if let Some(p) = a.record.as_ref().and_then(|r| r.parent()) {
        dirs.push(if p.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            p.to_path_buf()
        });
    }
    for d in &dirs {
        super::recover::recover_all(&crate::record::find_journals(d));
    }
    // After recovery, so a just-recovered take.mid counts as taken too.
    if let Some(r) = &a.record {
        let t = crate::record::choose_target(r)?;
        t.note.iter().for_each(|n| eprintln!("weft: {n}"));
        a.record = Some(t.path);
    }
    let (link, midi_sync) = parse_sync(a.sync.as_deref())?;
    let mut live = LiveConfig::new(&a.dir);
    live.lookahead = std::time::Duration::from_millis(a.lookahead.clamp(5, 2000));
    live.seed = a.seed;
    live.tempo = a.tempo;
    live.bars = a.bars;
    live.record = a.record.clone();
    live.record_dir = a.record_dir.clone();
    live.session_log = Some(a.record_dir.join("sessions.jsonl"));
    live.realtime = true;
    live.samples = a.samples.clone();
    let mut synth = crate::sound::synth::SynthConfig::for_patches(&a.dir, a.samples.as_deref());
    let samples = synth.samples_dir.clone().unwrap_or_default();
    // A bank named by `samples("path")` in the folder's patches at start is the one the
    // synth loads first; banks that saved patches name later are loaded by the compile worker
    // and swapped in at their reload boundary.
    if let Some(bank) = start_bank(&a.dir, a.samples.as_deref()) {
        synth.samples_dir = Some(bank);
    }
    let cfg = SessionConfig {
        live,
        audio: crate::sound::output::AudioConfig {
            device: a.device.clone(),
            host: a.host.clone(),
            connect: !a.no_connect,
            null_audio: a.null_audio,
            ..Default::default()
        },
        models_dir: models_dir_for(&a.dir, a.models.as_deref()),
        synth,
        screen: (!a.headless).then(|| ScreenConfig {
            logs: a.logs.clone().map(|l| (l, a.user.clone())),
            likeness_dirs: likeness_dirs(&samples, &a.record_dir),
        }),
        outputs: OutputsConfig {
            osc: a.osc_out.clone(),
            link,
            midi_sync,
            midi: (a.midi_out.is_some() || a.midi_clock).then(|| MidiSetup {
                port: a.midi_out.clone().unwrap_or_else(|| "weft".into()),
                notes: a.midi_out.is_some(),
                clock: a.midi_clock,
            }),
        },
    };
    let ending = Session::start(cfg)?.run(|line| eprintln!("{line}"))?;
    Ok(match ending {
        Ending::Clean => ExitCode::SUCCESS,
        Ending::Failed { last_words } => {
            if let Some(l) = last_words {
                eprintln!("{l}");
            }
            ExitCode::FAILURE
        }
    })
}
