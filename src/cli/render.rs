//! `weft check` (compile + dry run) and `weft render` (patches → MIDI file, and WAV through
//! the synth), both headless and deterministic.

use crate::engine::render::{render_with_samples, RenderSpec};
use crate::neural::voices::{models_dir_for, LstmVoices};
use crate::patch::check_file_in;
use anyhow::bail;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Patch files.
    #[arg(required = true)]
    pub patches: Vec<PathBuf>,
    /// Bars to dry-run (1 to 100000).
    #[arg(long, default_value_t = 4)]
    pub bars: u64,
    /// Folder of LSTM models, searched after the patch folder and its parent (also
    /// WEFT_MODELS; weft's installed data comes last).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Folder of samples, searched after the patch folder and its parent (also WEFT_SAMPLES);
    /// `samples("path")` in a patch looks here after the patch folder (as play and render do).
    #[arg(long, value_name = "DIR")]
    pub samples: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RenderArgs {
    /// Patch files (all play together).
    #[arg(required = true)]
    pub patches: Vec<PathBuf>,
    /// Number of bars (1 to 100000; a render holds at most 4,000,000 events).
    #[arg(long, default_value_t = 16)]
    pub bars: u64,
    /// Output MIDI file (never an input; an existing file is replaced only if it is MIDI).
    #[arg(short = 'o', long = "out")]
    pub out: Option<PathBuf>,
    /// Seed for prob, `?` and rand().
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fixed tempo in BPM, 20..400 (overrides the patches' tempo()).
    #[arg(long, value_parser = crate::engine::transport::parse_bpm)]
    pub tempo: Option<f64>,
    /// Also render the audio through the synth to this WAV file.
    #[arg(long)]
    pub wav: Option<PathBuf>,
    /// WAV sample format: i16, i24 or f32.
    #[arg(long, default_value = "i16")]
    pub wav_format: String,
    /// Sample rate of the WAV file.
    #[arg(long, default_value_t = 48_000)]
    pub sample_rate: u32,
    /// Folder of LSTM models, searched after the patch folder and its parent (also
    /// WEFT_MODELS; weft's installed data comes last).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// Folder of samples and the GM SoundFont for --wav, searched after the patch folder and
    /// its parent (also WEFT_SAMPLES; weft's installed data comes last); `samples("path")`
    /// in a patch looks here after the patch folder.
    #[arg(long, value_name = "DIR")]
    pub samples: Option<PathBuf>,
}

pub fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    crate::engine::render::check_bars(a.bars)?;
    let mut failed = 0;
    for p in &a.patches {
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let mut steps = LstmVoices::new(&models_dir_for(dir, a.models.as_deref()));
        let printed = &mut |place: &str, text: &str| eprintln!("{place}: {text}");
        match check_file_in(p, a.bars, a.samples.as_deref(), &mut steps, printed) {
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

pub fn run(a: RenderArgs) -> anyhow::Result<ExitCode> {
    crate::engine::render::check_bars(a.bars)?;
    if let Some(t) = a.tempo {
        if !(20.0..=400.0).contains(&t) {
            bail!("--tempo {t} is outside 20..400 BPM");
        }
    }
    if a.out.is_none() && a.wav.is_none() {
        bail!("nothing to write: give -o out.mid and/or --wav out.wav");
    }
    let format = match a.wav_format.as_str() {
        "i16" | "16" => crate::sound::synth::WavFormat::I16,
        "i24" | "24" => crate::sound::synth::WavFormat::I24,
        "f32" | "float" => crate::sound::synth::WavFormat::F32,
        other => bail!("--wav-format {other}: use i16, i24 or f32"),
    };
    if !(8_000..=192_000).contains(&a.sample_rate) {
        bail!("--sample-rate {} is outside 8000..192000", a.sample_rate);
    }
    // Outputs are checked before the render, so a refused one costs nothing.
    if let Some(out) = &a.out {
        crate::engine::render::check_midi_output(out, &a.patches)?;
    }
    if let Some(wav) = &a.wav {
        let mut taken = a.patches.clone();
        taken.extend(a.out.clone());
        if a.out.as_ref() == Some(wav) {
            bail!("{}: -o and --wav name the same file", wav.display());
        }
        crate::engine::render::check_wav_output(wav, &taken)?;
    }
    let dir = a.patches[0]
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_path_buf();
    let models_dir = models_dir_for(&dir, a.models.as_deref());
    let mut model_names = Vec::new();
    // The sample folder the patches chose with `samples("path")`: the synth loads that one.
    let mut bank_dirs = Vec::new();
    for p in &a.patches {
        let opts = crate::patch::LoadOptions {
            samples: a.samples.clone(),
            ..Default::default()
        };
        if let Ok(patch) = crate::patch::Patch::load_file(p, opts) {
            model_names.extend(crate::neural::voices::models_of(&patch));
            bank_dirs.extend(patch.samples_dir());
        }
    }
    bank_dirs.sort();
    bank_dirs.dedup();
    if bank_dirs.len() > 1 {
        bail!(
            "the patches load different sample folders ({}); one render plays one bank",
            crate::data::list(&bank_dirs)
        );
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
    let mut r = render_with_samples(&spec, steps, a.samples.as_deref())?;
    r.midi
        .provenance
        .extend(crate::neural::voices::model_provenance(
            &models_dir,
            &model_names,
        ));
    for n in &r.notices {
        use crate::engine::scheduler::Notice;
        if matches!(n, Notice::RuntimeError { .. } | Notice::Print { .. }) {
            eprintln!("{}", crate::engine::live::describe(n));
        }
    }
    if let Some(out) = &a.out {
        r.midi.write(out)?;
    }
    if let Some(wav) = &a.wav {
        let mut cfg = crate::sound::synth::SynthConfig {
            sample_rate: a.sample_rate,
            ..crate::sound::synth::SynthConfig::for_patches(&dir, a.samples.as_deref())
        };
        if let Some(bank) = bank_dirs.pop() {
            cfg.samples_dir = Some(bank);
        }
        // One more second so releases ring out.
        let report = crate::sound::synth::render_to_wav(
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
        .filter(|e| matches!(e.event, crate::engine::event::Event::NoteOn { .. }))
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
