//! `weft play [DIR]` (and `weft` alone): the live session, headless or with the screen.

use crate::neural::voices::{models_dir_for, LstmVoices};
use anyhow::{bail, Context};
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
    /// Listening logs (file or folder) for the recommend and forecast panes.
    #[arg(long)]
    pub logs: Option<PathBuf>,
    /// Whose recommendations the pane shows (default: the most active user).
    #[arg(long)]
    pub user: Option<String>,
}

/// `weft` with no command: `weft play scripts` with the screen.
#[derive(Parser, Debug)]
pub struct DefaultPlay {
    #[command(flatten)]
    pub play: PlayArgs,
}

/// Folders whose saved sounds the "sounds like" list ranks: `samples/` next to the patch
/// folder (when there is one) and the recordings folder.
fn likeness_dirs(patches: &std::path::Path, recordings: &std::path::Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let patches = patches
        .canonicalize()
        .unwrap_or_else(|_| patches.to_path_buf());
    if let Some(samples) = patches.parent().map(|p| p.join("samples")) {
        if samples.is_dir() {
            dirs.push(samples);
        }
    }
    dirs.push(recordings.to_path_buf());
    dirs
}

pub fn run(mut a: PlayArgs) -> anyhow::Result<ExitCode> {
    use crate::engine::live::{self, LiveConfig, Report};
    use std::sync::atomic::Ordering;
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
    let mut cfg = LiveConfig::new(&a.dir);
    cfg.lookahead = std::time::Duration::from_millis(a.lookahead.clamp(5, 2000));
    cfg.seed = a.seed;
    cfg.tempo = a.tempo;
    cfg.bars = a.bars;
    cfg.record = a.record.clone();
    cfg.record_dir = a.record_dir.clone();
    cfg.session_log = Some(a.record_dir.join("sessions.jsonl"));
    cfg.realtime = true;
    // Audio first (before the screen: probing a missing device makes alsa-lib talk).
    let (producer, consumer) = rtrb::RingBuffer::<crate::engine::event::TimedEvent>::new(8192);
    let audio_cfg = crate::sound::output::AudioConfig {
        device: a.device.clone(),
        null_audio: a.null_audio,
        ..Default::default()
    };
    let (tap_tx, tap_rx) = rtrb::RingBuffer::<f32>::new(1 << 16);
    let audio = crate::sound::output::start(
        audio_cfg,
        consumer,
        Some(tap_tx),
        crate::sound::synth::SynthConfig::default(),
    )?;
    // The analyzer listens to what the synth plays (the null sink renders too).
    let (feat_tx, feat_rx) = std::sync::mpsc::sync_channel(64);
    // The screen's "sounds like" worker gets the same frames (best effort).
    let (mon_tx, mon_rx) = std::sync::mpsc::sync_channel(256);
    let analyzer = crate::analysis::live::spawn_with_monitor(
        tap_rx,
        crate::analysis::AnalyzerConfig::new(audio.sample_rate()),
        feat_tx,
        (!a.headless).then_some(mon_tx),
    )?;
    let mut messages = audio.warnings.clone();
    messages.push(format!(
        "audio: {} at {} Hz",
        audio.device_name(),
        audio.sample_rate()
    ));
    let models = models_dir_for(&a.dir);
    cfg.models_dir = Some(models.clone());
    // One model cache for every thread that plans bars: the compile worker loads a patch's
    // models before it is ready, so the scheduler thread never reads a model file.
    let cache = std::sync::Arc::new(crate::neural::voices::ModelCache::new(&models));
    let steps: live::StepFactory =
        std::sync::Arc::new(move || Box::new(LstmVoices::with_cache(cache.clone())));
    cfg.status = !a.headless;
    let clock = live::AudioClock::new(audio.meters(), audio.sample_rate());
    let handle = live::start_with_features(
        cfg,
        Box::new(clock),
        Some(Box::new(live::RingOut(producer))),
        steps,
        Some(live::FeatureLink {
            frames: feat_rx,
            control: Some(analyzer.control()),
        }),
    )?;
    if !a.headless {
        let meters = audio.meters();
        let device = (!audio.is_null()).then(|| audio.device_name());
        let sr = audio.sample_rate();
        let died = crate::tui::bridge::run(
            handle,
            move || {
                let st = meters.stats();
                crate::tui::bridge::AudioFacts {
                    device: device.clone(),
                    sample_rate: Some(sr),
                    load_pct: st.load_pct,
                    underruns: st.underruns,
                }
            },
            crate::tui::bridge::PaneSources::default(),
            messages,
            a.logs.clone().map(|l| (l, a.user.clone())),
            Some(crate::tui::bridge::LikenessSource {
                frames: mon_rx,
                dirs: likeness_dirs(&a.dir, &a.record_dir),
            }),
        )?;
        drop(analyzer);
        drop(audio);
        if let Some(why) = died {
            // The screen showed it; say it again on the restored terminal.
            eprintln!("weft: {why}");
            return Ok(ExitCode::FAILURE);
        }
        return Ok(ExitCode::SUCCESS);
    }
    for m in &messages {
        eprintln!("weft: {m}");
    }
    let stop = handle.stop_flag();
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    // The session ends cleanly only with `Stopped` after no `Died`; an engine thread that
    // ended any other way is a failure the exit code reports.
    let mut clean = false;
    let mut died = false;
    let show = |r: &Report, clean: &mut bool, died: &mut bool| {
        match r {
            Report::Stopped => *clean = !*died,
            Report::Died { .. } => *died = true,
            _ => {}
        }
        if let Some(line) = live::describe_report(r) {
            eprintln!("{line}");
        }
    };
    loop {
        match handle
            .reports
            .recv_timeout(std::time::Duration::from_millis(100))
        {
            Ok(r) => {
                show(&r, &mut clean, &mut died);
                if matches!(r, Report::Stopped) {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if handle.is_finished() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    stop.store(true, Ordering::SeqCst);
    for r in handle.reports.try_iter() {
        show(&r, &mut clean, &mut died);
    }
    handle.join();
    if !clean {
        if !died {
            eprintln!("error: the engine stopped unexpectedly; the music stopped");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
