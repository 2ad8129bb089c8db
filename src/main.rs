//! The `weft` binary: command-line parsing and the error edge (anyhow). Every command's
//! logic lives in the library; this file only wires arguments to it.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use weft::neural::{models_dir_for, LstmVoices};
use weft::patch::check_file;
use weft::render::{render, RenderSpec};

/// Counts each thread's allocations so a patch evaluation that allocates without bound is
/// stopped at its budget (see `weft::alloc_meter`); otherwise the system allocator.
#[global_allocator]
static ALLOC: weft::alloc_meter::CountingAlloc = weft::alloc_meter::CountingAlloc;

#[derive(Parser, Debug)]
#[command(
    name = "weft",
    version,
    about = "A live-coding music instrument for the terminal"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Compile and dry-run patches (4 bars); print errors as file:line:col: message.
    Check(CheckArgs),
    /// Render patches headlessly to a Standard MIDI File, faster than real time.
    Render(RenderArgs),
    /// Play the patches in DIR live; hot-reloads every save at its quantize point.
    Play(PlayArgs),
    /// Turn journals left by a crash into MIDI files (default: every journal in recordings/).
    Recover(RecoverArgs),
    /// List audio output devices (for --device).
    Devices(weft::audio::DevicesArgs),
    #[command(flatten)]
    Logs(weft::logs::cli::Command),
    /// Features of a WAV file with the live analyzer's code (or --similar DIR FILE).
    Analyze(weft::analysis::cli::AnalyzeArgs),
    /// Train the note LSTM on a folder of MIDI files (or evaluate it with --eval-only).
    Train(weft::lstm::cli::TrainArgs),
}

#[derive(Args, Debug)]
struct PlayArgs {
    /// Folder of patches to watch.
    #[arg(default_value = "scripts")]
    dir: PathBuf,
    /// No screen: log to stderr.
    #[arg(long)]
    headless: bool,
    /// Record everything played to this MIDI file.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Folder for recordings started with `r`.
    #[arg(long, default_value = "recordings")]
    record_dir: PathBuf,
    /// Stop after N bars.
    #[arg(long)]
    bars: Option<u64>,
    /// How far ahead the scheduler works, in milliseconds.
    #[arg(long, default_value_t = 50)]
    lookahead: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fixed tempo in BPM, 20..400 (overrides the patches' tempo()).
    #[arg(long, value_parser = weft::transport::parse_bpm)]
    tempo: Option<f64>,
    /// Do not open an audio device: run on the silent real-time clock.
    #[arg(long)]
    null_audio: bool,
    /// Audio output device name (see `weft devices`).
    #[arg(long)]
    device: Option<String>,
    /// Listening logs (file or folder) for the recommend and forecast panes.
    #[arg(long)]
    logs: Option<PathBuf>,
    /// Whose recommendations the pane shows (default: the most active user).
    #[arg(long)]
    user: Option<String>,
}

/// `weft` with no command: `weft play scripts` with the screen.
#[derive(Parser, Debug)]
struct DefaultPlay {
    #[command(flatten)]
    play: PlayArgs,
}

#[derive(Args, Debug)]
struct RecoverArgs {
    /// Journal files (`*.weftjournal`); default: those in recordings/.
    journals: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct CheckArgs {
    /// Patch files.
    #[arg(required = true)]
    patches: Vec<PathBuf>,
    /// Bars to dry-run (1 to 100000).
    #[arg(long, default_value_t = 4)]
    bars: u64,
}

#[derive(Args, Debug)]
struct RenderArgs {
    /// Patch files (all play together).
    #[arg(required = true)]
    patches: Vec<PathBuf>,
    /// Number of bars (1 to 100000; a render holds at most 4,000,000 events).
    #[arg(long, default_value_t = 16)]
    bars: u64,
    /// Output MIDI file (never an input; an existing file is replaced only if it is MIDI).
    #[arg(short = 'o', long = "out")]
    out: Option<PathBuf>,
    /// Seed for prob, `?` and rand().
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Fixed tempo in BPM, 20..400 (overrides the patches' tempo()).
    #[arg(long, value_parser = weft::transport::parse_bpm)]
    tempo: Option<f64>,
    /// Also render the audio through the synth to this WAV file.
    #[arg(long)]
    wav: Option<PathBuf>,
    /// WAV sample format: i16, i24 or f32.
    #[arg(long, default_value = "i16")]
    wav_format: String,
    /// Sample rate of the WAV file.
    #[arg(long, default_value_t = 48_000)]
    sample_rate: u32,
}

fn cmd_check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    weft::render::check_bars(a.bars)?;
    let mut failed = 0;
    for p in &a.patches {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let mut steps = LstmVoices::new(&models_dir_for(dir));
        match check_file(p, a.bars, &mut steps) {
            Ok(()) => eprintln!("{}: ok", p.display()),
            Err(e) => {
                println!("{e}");
                failed += 1;
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn cmd_render(a: RenderArgs) -> anyhow::Result<ExitCode> {
    weft::render::check_bars(a.bars)?;
    if let Some(t) = a.tempo {
        if !(20.0..=400.0).contains(&t) {
            bail!("--tempo {t} is outside 20..400 BPM");
        }
    }
    if a.out.is_none() && a.wav.is_none() {
        bail!("nothing to write: give -o out.mid and/or --wav out.wav");
    }
    let format = match a.wav_format.as_str() {
        "i16" | "16" => weft::synth::WavFormat::I16,
        "i24" | "24" => weft::synth::WavFormat::I24,
        "f32" | "float" => weft::synth::WavFormat::F32,
        other => bail!("--wav-format {other}: use i16, i24 or f32"),
    };
    if !(8_000..=192_000).contains(&a.sample_rate) {
        bail!("--sample-rate {} is outside 8000..192000", a.sample_rate);
    }
    // Outputs are checked before the render, so a refused one costs nothing.
    if let Some(out) = &a.out {
        weft::render::check_midi_output(out, &a.patches)?;
    }
    if let Some(wav) = &a.wav {
        let mut taken = a.patches.clone();
        taken.extend(a.out.clone());
        if a.out.as_ref() == Some(wav) {
            bail!("{}: -o and --wav name the same file", wav.display());
        }
        weft::render::check_wav_output(wav, &taken)?;
    }
    let dir = a.patches[0]
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let models_dir = models_dir_for(dir);
    let mut model_names = Vec::new();
    for p in &a.patches {
        if let Ok(patch) = weft::patch::Patch::load_file(p, Default::default()) {
            model_names.extend(weft::neural::models_of(&patch));
        }
    }
    model_names.sort();
    model_names.dedup();
    let steps = Box::new(LstmVoices::new(&models_dir));
    let spec = RenderSpec {
        patches: a.patches,
        bars: a.bars,
        seed: a.seed,
        tempo: a.tempo,
        sample_rate: a.sample_rate,
    };
    let mut r = render(&spec, steps)?;
    r.midi
        .provenance
        .extend(weft::neural::model_provenance(&models_dir, &model_names));
    for n in &r.notices {
        use weft::scheduler::Notice;
        if matches!(n, Notice::RuntimeError { .. } | Notice::Print { .. }) {
            eprintln!("{}", weft::live::describe(n));
        }
    }
    if let Some(out) = &a.out {
        r.midi.write(out)?;
    }
    if let Some(wav) = &a.wav {
        let cfg = weft::synth::SynthConfig {
            sample_rate: a.sample_rate,
            ..Default::default()
        };
        // One more second so releases ring out.
        let report = weft::synth::render_to_wav(
            &r.events,
            r.frames + a.sample_rate as u64,
            cfg,
            wav,
            format,
        )?;
        for w in &report.warnings {
            eprintln!("weft: {w}");
        }
        eprintln!(
            "wrote {} ({:.1} s, peak {:.2})",
            wav.display(),
            report.frames as f64 / a.sample_rate as f64,
            report.peak
        );
    }
    let out = a.out.unwrap_or_default();
    let notes = r
        .events
        .iter()
        .filter(|e| matches!(e.event, weft::event::Event::NoteOn { .. }))
        .count();
    eprintln!(
        "wrote {} ({} bars, {} tracks, {} notes)",
        out.display(),
        spec.bars,
        r.midi.tracks.len(),
        notes
    );
    Ok(ExitCode::SUCCESS)
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

/// Recovers each journal; returns how many were dealt with (recovered, or left alone because
/// their recording is still running in another weft).
fn recover_all(journals: &[PathBuf]) -> usize {
    use weft::record::RecordError;
    let mut n = 0;
    for j in journals {
        match weft::record::recover(j) {
            Ok((f, jc)) => {
                eprintln!(
                    "recovered {} notes from {} into {}{}",
                    f.notes,
                    j.display(),
                    f.path.display(),
                    if jc.cut > 0 {
                        format!(
                            " ({} damaged stretches, {} bytes, skipped)",
                            jc.cut, jc.skipped_bytes
                        )
                    } else {
                        String::new()
                    }
                );
                n += 1;
            }
            Err(e @ (RecordError::InUse { .. } | RecordError::Gone { .. })) => {
                eprintln!("weft: {e}");
                n += 1;
            }
            Err(e) => eprintln!("weft: cannot recover {}: {e}", j.display()),
        }
    }
    n
}

fn cmd_recover(a: RecoverArgs) -> anyhow::Result<ExitCode> {
    let journals = if a.journals.is_empty() {
        weft::record::find_journals(std::path::Path::new("recordings"))
    } else {
        a.journals
    };
    if journals.is_empty() {
        eprintln!("no journals to recover");
        return Ok(ExitCode::SUCCESS);
    }
    let ok = recover_all(&journals);
    Ok(if ok == journals.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn cmd_play(mut a: PlayArgs) -> anyhow::Result<ExitCode> {
    use std::sync::atomic::Ordering;
    use weft::live::{self, LiveConfig, Report};
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
        recover_all(&weft::record::find_journals(d));
    }
    // After recovery, so a just-recovered take.mid counts as taken too.
    if let Some(r) = &a.record {
        let t = weft::record::choose_target(r)?;
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
    let (producer, consumer) = rtrb::RingBuffer::<weft::event::TimedEvent>::new(8192);
    let audio_cfg = weft::audio::AudioConfig {
        device: a.device.clone(),
        null_audio: a.null_audio,
        ..Default::default()
    };
    let (tap_tx, tap_rx) = rtrb::RingBuffer::<f32>::new(1 << 16);
    let audio = weft::audio::start(
        audio_cfg,
        consumer,
        Some(tap_tx),
        weft::synth::SynthConfig::default(),
    )?;
    // The analyzer listens to what the synth plays (the null sink renders too).
    let (feat_tx, feat_rx) = std::sync::mpsc::sync_channel(64);
    // The screen's "sounds like" worker gets the same frames (best effort).
    let (mon_tx, mon_rx) = std::sync::mpsc::sync_channel(256);
    let analyzer = weft::analysis::live::spawn_with_monitor(
        tap_rx,
        weft::analysis::AnalyzerConfig::new(audio.sample_rate()),
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
    let cache = std::sync::Arc::new(weft::neural::ModelCache::new(&models));
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
        let died = weft::screen::run(
            handle,
            move || {
                let st = meters.stats();
                weft::screen::AudioFacts {
                    device: device.clone(),
                    sample_rate: Some(sr),
                    load_pct: st.load_pct,
                    underruns: st.underruns,
                }
            },
            weft::screen::PaneSources::default(),
            messages,
            a.logs.clone().map(|l| (l, a.user.clone())),
            Some(weft::screen::LikenessSource {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => cmd_play(DefaultPlay::parse_from(["weft"]).play),
        Some(Command::Check(a)) => cmd_check(a),
        Some(Command::Render(a)) => cmd_render(a),
        Some(Command::Play(a)) => cmd_play(a),
        Some(Command::Recover(a)) => cmd_recover(a),
        Some(Command::Devices(a)) => weft::audio::run_devices(a)
            .map(|_| ExitCode::SUCCESS)
            .map_err(Into::into),
        Some(Command::Logs(c)) => weft::logs::cli::run(c).map(|_| ExitCode::SUCCESS),
        Some(Command::Analyze(a)) => weft::analysis::cli::run(&a)
            .map(|_| ExitCode::SUCCESS)
            .map_err(Into::into),
        Some(Command::Train(a)) => {
            // candle and rayon's pool size themselves from this variable when they first
            // run; nothing has started yet, so setting it here is race-free.
            std::env::set_var("RAYON_NUM_THREADS", a.threads.max(1).to_string());
            weft::lstm::cli::run(&a)
                .map(|_| ExitCode::SUCCESS)
                .map_err(Into::into)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("weft: {e:#}");
            ExitCode::FAILURE
        }
    }
}
