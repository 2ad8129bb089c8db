//! `weft analyze`: the command-line face of the analysis stage.
//!
//! `weft analyze FILE.wav [--json] [--fft N --hop H]` reads the file ([`crate::analysis::wav`]), runs
//! the same [`crate::analysis::Analyzer`] as the live engine ([`crate::analysis::offline`]) and prints a
//! summary, or with `--json` the summary plus every frame. `weft analyze --similar DIR FILE`
//! ranks the WAV files in DIR by profile cosine similarity to FILE ([`crate::analysis::profile`]).

use crate::analysis::offline::{analyze_file, Analysis, Summary};
use crate::analysis::wav::WavInfo;
use crate::analysis::{profile, AnalysisError, Features};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `weft analyze`.
#[derive(clap::Args, Debug, Clone)]
pub struct AnalyzeArgs {
    /// WAV file to analyse (with --similar: the file to compare against)
    pub file: PathBuf,
    /// Print the summary and every frame's features as JSON
    #[arg(long)]
    pub json: bool,
    /// FFT / frame size in samples (512..=8192)
    #[arg(long, default_value_t = 2048)]
    pub fft: usize,
    /// Hop between frames in samples
    #[arg(long, default_value_t = 512)]
    pub hop: usize,
    /// Rank the .wav files in DIR by similarity to FILE
    #[arg(long, value_name = "DIR")]
    pub similar: Option<PathBuf>,
}

/// What the output is called in errors writing it.
const OUTPUT: &str = "<output>";

/// Runs the command, printing to stdout. A closed stdout (`weft analyze … --json | head`)
/// ends the command quietly, as it ends `cat`.
pub fn run(args: &AnalyzeArgs) -> Result<(), AnalysisError> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let r = run_to(args, &mut lock).and_then(|_| {
        lock.flush().map_err(|error| AnalysisError::Io {
            path: OUTPUT.into(),
            error,
        })
    });
    match r {
        Err(AnalysisError::Io { path, error })
            if path == Path::new(OUTPUT) && error.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            Ok(())
        }
        r => r,
    }
}

/// Runs the command, writing its output to `out`.
pub fn run_to(args: &AnalyzeArgs, out: &mut impl Write) -> Result<(), AnalysisError> {
    let io = |error| AnalysisError::Io {
        path: OUTPUT.into(),
        error,
    };
    if let Some(dir) = &args.similar {
        let profile::Similar { ranked, skipped } = profile::rank_similar(dir, &args.file)?;
        // One unreadable file does not spoil the ranking of the others; say which it was.
        for (_, e) in &skipped {
            let _ = writeln!(std::io::stderr(), "weft: skipped {e}");
        }
        if args.json {
            let rows: Vec<_> = ranked
                .iter()
                .map(|(p, s)| serde_json::json!({ "file": p.display().to_string(), "similarity": s }))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &rows).map_err(|e| io(e.into()))?;
            writeln!(out).map_err(io)?;
        } else {
            writeln!(
                out,
                "files in {} most like {}:",
                dir.display(),
                args.file.display()
            )
            .map_err(io)?;
            for (p, s) in &ranked {
                writeln!(out, "{s:8.4}  {}", p.display()).map_err(io)?;
            }
        }
        return Ok(());
    }
    let (wav, analysis) = analyze_file(&args.file, args.fft, args.hop)?;
    if args.json {
        write_json(&args.file, &wav, &analysis, out).map_err(|e| io(e.into()))?;
        writeln!(out).map_err(io)?;
    } else {
        write_summary(&args.file, &wav, &analysis, out).map_err(io)?;
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct FrameJson<'a> {
    frame: u64,
    time: f64,
    rms: f32,
    centroid: f32,
    bandwidth: f32,
    rolloff: f32,
    flatness: f32,
    flux: f32,
    onset_strength: f32,
    onset: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    onset_time: Option<f64>,
    chroma: &'a [f32; 12],
    bpm: f32,
    bands: &'a [f32],
}

impl<'a> From<&'a Features> for FrameJson<'a> {
    fn from(f: &'a Features) -> Self {
        FrameJson {
            frame: f.frame,
            time: f.time,
            rms: f.rms,
            centroid: f.centroid,
            bandwidth: f.bandwidth,
            rolloff: f.rolloff,
            flatness: f.flatness,
            flux: f.flux,
            onset_strength: f.onset_strength,
            onset: f.onset,
            onset_time: f.onset.then_some(f.onset_time),
            chroma: &f.chroma,
            bpm: f.bpm,
            bands: &f.bands,
        }
    }
}

#[derive(serde::Serialize)]
struct FileJson<'a> {
    file: String,
    sample_rate: u32,
    channels: u16,
    bits: u16,
    float: bool,
    fft: usize,
    hop: usize,
    summary: &'a Summary,
    frames: Vec<FrameJson<'a>>,
}

fn write_json(
    path: &Path,
    wav: &WavInfo,
    a: &Analysis,
    out: &mut impl Write,
) -> serde_json::Result<()> {
    let doc = FileJson {
        file: path.display().to_string(),
        sample_rate: wav.sample_rate,
        channels: wav.channels,
        bits: wav.bits,
        float: wav.float,
        fft: a.config.fft,
        hop: a.config.hop,
        summary: &a.summary,
        frames: a.frames.iter().map(FrameJson::from).collect(),
    };
    serde_json::to_writer(out, &doc)
}

const PITCH: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

fn write_summary(
    path: &Path,
    wav: &WavInfo,
    a: &Analysis,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let s = &a.summary;
    writeln!(
        out,
        "{}: {:.3} s, {} Hz, {} ch, {}-bit {}; fft {} hop {} → {} frames",
        path.display(),
        wav.duration(),
        wav.sample_rate,
        wav.channels,
        wav.bits,
        if wav.float { "float" } else { "int" },
        a.config.fft,
        a.config.hop,
        s.frames
    )?;
    let rows = [
        ("rms", s.mean.rms, s.std.rms, ""),
        ("centroid", s.mean.centroid, s.std.centroid, " Hz"),
        ("bandwidth", s.mean.bandwidth, s.std.bandwidth, " Hz"),
        ("rolloff", s.mean.rolloff, s.std.rolloff, " Hz"),
        ("flatness", s.mean.flatness, s.std.flatness, ""),
        ("flux", s.mean.flux, s.std.flux, ""),
        (
            "onset strength",
            s.mean.onset_strength,
            s.std.onset_strength,
            "",
        ),
    ];
    for (name, m, sd, unit) in rows {
        writeln!(
            out,
            "  {name:<15} mean {m:>12.5}{unit}  std {sd:>12.5}{unit}"
        )?;
    }
    let top = (0..12)
        .max_by(|x, y| s.chroma_mean[*x].total_cmp(&s.chroma_mean[*y]))
        .unwrap_or(0);
    write!(out, "  chroma (mean)  ")?;
    for (p, c) in PITCH.iter().zip(&s.chroma_mean) {
        write!(out, "{p}:{c:.2} ")?;
    }
    writeln!(out, "(strongest {})", PITCH[top])?;
    let rate = if s.duration > 0.0 {
        s.onsets.len() as f64 / s.duration
    } else {
        0.0
    };
    writeln!(out, "  onsets         {} ({rate:.2}/s)", s.onsets.len())?;
    if s.bpm > 0.0 {
        writeln!(out, "  tempo          {:.1} bpm", s.bpm)
    } else {
        writeln!(out, "  tempo          unknown")
    }
}
