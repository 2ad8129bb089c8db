//! Sample banks in the Dirt-Samples layout: a folder of folders (`bd/`, `sd/`, `hh/` …), each
//! holding WAV, FLAC or Ogg Vorbis files sorted by file name, so `bd:3` is the fourth file of
//! `bd/` (the index wraps modulo the folder's count, as in Strudel). The loose `*.wav` files
//! at the top of the folder stay the flat bank that `sample: n` indexes (folder 0).
//!
//! Everything here runs off the audio thread: [`scan`] only lists folders (the patch side
//! calls it to check names and report did-you-mean errors); [`Bank::load`] decodes every file
//! (hound for WAV, symphonia for FLAC and Ogg Vorbis), converts it to the engine's rate and
//! caps its length at [`MAX_SAMPLE_SECS`] and the bank at [`BANK_BUDGET_SAMPLES`] (longer
//! files are cut there, with a warning) — except files longer than the streaming threshold
//! (WAV, FLAC, Ogg), of which only the head and tail are decoded (`stream`). The audio thread only
//! reads the immutable, `Arc`-shared result.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::sampler::Sample;
use super::stream::{load_streamed, Source, StreamOptions};
use super::SynthError;

/// Longest stretch of one file that is kept in memory, in seconds at the engine rate. Longer
/// files are cut here (a warning says so); long files are streamed instead (`stream`).
/// A minute of 48 kHz stereo is 23 MB, these ten minutes 230 MB.
pub const MAX_SAMPLE_SECS: f32 = 600.0;

/// Decoded samples (all channels) one bank keeps in memory: 1 GiB of `f32`. A file that
/// would pass it is cut to what is left, with a warning, so a folder of long recordings
/// cannot exhaust memory.
pub const BANK_BUDGET_SAMPLES: usize = 1 << 28;

/// File extensions a bank folder's files may have.
pub const EXTENSIONS: [&str; 3] = ["wav", "flac", "ogg"];

/// One folder of a bank as the patch side sees it: its name and how many files it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderInfo {
    pub name: String,
    pub count: usize,
}

fn is_audio(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| EXTENSIONS.iter().any(|e| x.eq_ignore_ascii_case(e)))
}

fn audio_files(dir: &Path) -> Result<Vec<PathBuf>, SynthError> {
    let rd = std::fs::read_dir(dir).map_err(|e| SynthError::Io(dir.display().to_string(), e))?;
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_audio(p))
        .collect();
    v.sort();
    Ok(v)
}

/// The sample folders of `root` (sub-folders with at least one audio file), sorted by
/// name, each with its files in index order. Folder `k` of this list is `Sound::folder`
/// `k + 1`; the patch side and the engine both list through here, so they agree.
pub fn scan_files(root: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, SynthError> {
    let rd = std::fs::read_dir(root).map_err(|e| SynthError::Io(root.display().to_string(), e))?;
    let mut dirs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for d in dirs {
        let files = audio_files(&d)?;
        if files.is_empty() {
            continue;
        }
        let name = d
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, files));
    }
    Ok(out)
}

/// [`scan_files`] without the paths: what a patch needs to check `bd:3` and `sample: "sd"`.
pub fn scan(root: &Path) -> Result<Vec<FolderInfo>, SynthError> {
    Ok(scan_files(root)?
        .into_iter()
        .map(|(name, files)| FolderInfo {
            name,
            count: files.len(),
        })
        .collect())
}

/// A loaded bank: the flat one-shots (folder 0) and the named folders (1..).
#[derive(Debug, Default)]
pub struct Bank {
    pub flat: Vec<Arc<Sample>>,
    pub folders: Vec<(String, Vec<Arc<Sample>>)>,
}

impl Bank {
    /// Loads `root`: its loose `*.wav` files as the flat bank and every sample folder, each
    /// file decoded, converted to `rate` and capped at [`MAX_SAMPLE_SECS`]. Unreadable files
    /// become warnings (and silence for their index), not errors; a missing `root` is an error.
    pub fn load(root: &Path, rate: u32, warnings: &mut Vec<String>) -> Result<Bank, SynthError> {
        Bank::load_with(root, rate, StreamOptions::default(), warnings)
    }

    /// [`Bank::load`] streaming the WAV files longer than `stream.after_secs`.
    pub fn load_with(
        root: &Path,
        rate: u32,
        stream: StreamOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Bank, SynthError> {
        Bank::load_within(root, rate, BANK_BUDGET_SAMPLES, stream, warnings)
    }

    /// [`Bank::load_with`] keeping at most `budget` decoded samples (all channels, all
    /// files; a streamed file counts its head and tail).
    pub fn load_within(
        root: &Path,
        rate: u32,
        budget: usize,
        stream: StreamOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Bank, SynthError> {
        let mut left = budget;
        let mut one = |p: &Path| match load_one(p, rate, stream, warnings) {
            Ok(s) if s.stream.is_some() => {
                let kept = s.data.len() + s.stream.as_ref().map_or(0, |t| t.tail.len());
                left = left.saturating_sub(kept);
                Arc::new(s)
            }
            Ok(mut s) => {
                if s.data.len() > left {
                    warnings.push(format!(
                        "sample {}: the bank's {} MB of decoded audio is used up; only its first {:.1} s are kept",
                        s.name,
                        (budget * 4) >> 20,
                        (left / s.channels.max(1)) as f32 / rate as f32
                    ));
                    s.data.truncate(left / s.channels.max(1) * s.channels);
                }
                left -= s.data.len();
                Arc::new(s)
            }
            Err(e) => {
                warnings.push(format!("skipping sample: {e}"));
                Arc::new(Sample {
                    name: String::new(),
                    sample_rate: rate,
                    channels: 1,
                    data: Vec::new(),
                    stream: None,
                })
            }
        };
        let mut flat = Vec::new();
        for p in super::sampler::wav_paths(root)? {
            let s = one(&p);
            if !s.data.is_empty() {
                flat.push(s);
            }
        }
        let mut folders = Vec::new();
        for (name, files) in scan_files(root)? {
            let samples = files.iter().map(|p| one(p)).collect();
            folders.push((name, samples));
        }
        Ok(Bank { flat, folders })
    }

    /// The sample `index` (modulo the folder's count) of `folder` (0 = the flat bank,
    /// k = the k-th named folder). `None` if the folder does not exist or is empty.
    #[inline]
    pub fn get(&self, folder: u16, index: u16) -> Option<&Sample> {
        let v = if folder == 0 {
            &self.flat
        } else {
            &self.folders.get(folder as usize - 1)?.1
        };
        if v.is_empty() {
            return None;
        }
        Some(&v[index as usize % v.len()])
    }

    pub fn is_empty(&self) -> bool {
        self.flat.is_empty() && self.folders.is_empty()
    }
}

/// One file of a bank: a file longer than `stream.after_secs` at `rate` as a streamed
/// sample (head and tail decoded), anything else decoded whole and [`fit`] to `rate`. A
/// FLAC or Ogg file whose header does not tell its length is decoded whole.
fn load_one(
    p: &Path,
    rate: u32,
    stream: StreamOptions,
    warnings: &mut Vec<String>,
) -> Result<Sample, SynthError> {
    let wav = p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav"));
    let src = match Source::open(p) {
        Ok(s) => Some(s),
        Err(e) if wav => return Err(e),
        Err(_) => None,
    };
    if let Some(src) = src {
        if src.frames(rate) as f64 > stream.after_secs as f64 * rate as f64 {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            return load_streamed(src, rate, name, warnings);
        }
    }
    Ok(fit(decode(p)?, rate, warnings))
}

/// Decodes a WAV (hound), FLAC or Ogg Vorbis (symphonia) file to interleaved f32, keeping at
/// most two channels.
pub fn decode(path: &Path) -> Result<Sample, SynthError> {
    let wav = path
        .extension()
        .is_some_and(|x| x.eq_ignore_ascii_case("wav"));
    if wav {
        Sample::load(path)
    } else {
        decode_symphonia(path)
    }
}

/// A file opened with symphonia: its demuxer, its default audio track and a decoder for it.
pub(super) struct Coded {
    pub format: Box<dyn symphonia::core::formats::FormatReader>,
    pub decoder: Box<dyn symphonia::core::codecs::audio::AudioDecoder>,
    pub track: symphonia::core::formats::Track,
}

/// Opens `path` with symphonia (probed by content, hinted by extension) and makes a decoder for
/// its default audio track — shared by the whole-file decode and the streamed reader.
pub(super) fn open_coded(path: &Path) -> Result<Coded, SynthError> {
    use symphonia::core::codecs::audio::AudioDecoderOptions;
    use symphonia::core::formats::probe::Hint;
    use symphonia::core::formats::{FormatOptions, TrackType};
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;

    let name = path.display().to_string();
    let err = |m: String| SynthError::Decode(name.clone(), m);
    let file = std::fs::File::open(path).map_err(|e| SynthError::Io(name.clone(), e))?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(x) = path.extension().and_then(|x| x.to_str()) {
        hint.with_extension(x);
    }
    let format = symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| err(e.to_string()))?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| err("no audio track".into()))?
        .clone();
    let params = track
        .codec_params
        .as_ref()
        .and_then(|c| c.audio())
        .ok_or_else(|| err("no audio codec parameters".into()))?;
    let decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| err(e.to_string()))?;
    Ok(Coded {
        format,
        decoder,
        track,
    })
}

/// Decodes any supported file with symphonia (also used for WAV by the decode bench).
pub fn decode_symphonia(path: &Path) -> Result<Sample, SynthError> {
    use symphonia::core::errors::Error;

    let name = path.display().to_string();
    let err = |m: String| SynthError::Decode(name.clone(), m);
    let Coded {
        mut format,
        mut decoder,
        track,
    } = open_coded(path)?;
    let track_id = track.id;
    let mut raw: Vec<f32> = Vec::new();
    let mut packet_buf: Vec<f32> = Vec::new();
    let mut rate = 0u32;
    let mut in_ch = 0usize;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(err(e.to_string())),
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => {
                rate = buf.spec().rate();
                in_ch = buf.spec().channels().count().max(1);
                buf.copy_to_vec_interleaved(&mut packet_buf);
                if in_ch <= 2 {
                    raw.extend_from_slice(&packet_buf);
                } else {
                    for f in packet_buf.chunks_exact(in_ch) {
                        raw.extend_from_slice(&f[..2]);
                    }
                }
            }
            Err(Error::DecodeError(_)) => {}
            Err(e) => return Err(err(e.to_string())),
        }
    }
    if rate == 0 {
        return Err(err("no audio decoded".into()));
    }
    Ok(Sample {
        name: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sample_rate: rate,
        channels: in_ch.min(2),
        data: raw,
        stream: None,
    })
}

/// Converts `s` to `rate` (cubic Hermite interpolation; untouched when the rates match, so
/// 16-bit material at the engine rate stays bit-exact) and cuts it at [`MAX_SAMPLE_SECS`].
pub fn fit(s: Sample, rate: u32, warnings: &mut Vec<String>) -> Sample {
    let mut s = if s.sample_rate == rate || s.frames() < 2 {
        Sample {
            sample_rate: rate,
            ..s
        }
    } else {
        resample(&s, rate)
    };
    let max = (MAX_SAMPLE_SECS * rate as f32) as usize;
    if s.frames() > max {
        warnings.push(format!(
            "sample {}: {:.1} s is longer than {MAX_SAMPLE_SECS} s; only its first {MAX_SAMPLE_SECS} s are kept",
            s.name,
            s.frames() as f32 / rate as f32
        ));
        s.data.truncate(max * s.channels);
    }
    s
}

fn resample(s: &Sample, rate: u32) -> Sample {
    let ch = s.channels;
    let n = s.frames();
    let ratio = s.sample_rate as f64 / rate as f64;
    let out_frames = ((n as f64) / ratio).floor().max(1.0) as usize;
    let at = |i: isize, c: usize| -> f32 { s.data[(i.clamp(0, n as isize - 1) as usize) * ch + c] };
    let mut data = Vec::with_capacity(out_frames * ch);
    for j in 0..out_frames {
        catmull_rom(&at, j as f64 * ratio, ch, &mut data);
    }
    Sample {
        name: s.name.clone(),
        sample_rate: rate,
        channels: ch,
        data,
        stream: None,
    }
}

/// Appends the `ch` channels of the source read by `at(frame, channel)` at fractional
/// position `pos` (Catmull-Rom), as resampling a whole file and streaming one both do.
#[inline]
pub(super) fn catmull_rom(
    at: &impl Fn(isize, usize) -> f32,
    pos: f64,
    ch: usize,
    out: &mut Vec<f32>,
) {
    let i = pos.floor() as isize;
    let t = (pos - i as f64) as f32;
    for c in 0..ch {
        let (y0, y1, y2, y3) = (at(i - 1, c), at(i, c), at(i + 1, c), at(i + 2, c));
        let a = -0.5 * y0 + 1.5 * y1 - 1.5 * y2 + 0.5 * y3;
        let b = y0 - 2.5 * y1 + 2.0 * y2 - 0.5 * y3;
        let cc = -0.5 * y0 + 0.5 * y2;
        out.push(((a * t + b) * t + cc) * t + y1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_wav(path: &Path, rate: u32, data: &[i16]) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &x in data {
            w.write_sample(x).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn scan_sorts_folders_and_files_and_skips_empty_folders() {
        let d = tempfile::tempdir().unwrap();
        for (dir, file) in [
            ("sd", "b.wav"),
            ("bd", "2.wav"),
            ("bd", "1.wav"),
            ("empty", "x.txt"),
        ] {
            std::fs::create_dir_all(d.path().join(dir)).unwrap();
            if file.ends_with(".wav") {
                write_wav(&d.path().join(dir).join(file), 48_000, &[1, 2, 3]);
            } else {
                std::fs::write(d.path().join(dir).join(file), "x").unwrap();
            }
        }
        let s = scan(d.path()).unwrap();
        let names: Vec<_> = s.iter().map(|f| (f.name.as_str(), f.count)).collect();
        assert_eq!(names, [("bd", 2), ("sd", 1)]);
        let mut w = Vec::new();
        let bank = Bank::load(d.path(), 48_000, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(bank.get(1, 0).unwrap().name, "1");
        assert_eq!(bank.get(1, 3).unwrap().name, "2"); // wraps
        assert!(bank.get(0, 0).is_none());
        assert!(bank.get(9, 0).is_none());
    }

    #[test]
    fn resampling_keeps_a_sine_and_long_files_are_capped_with_a_warning() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sine.wav");
        let data: Vec<i16> = (0..24_000)
            .map(|i| {
                ((i as f32 * 440.0 / 24_000.0 * std::f32::consts::TAU).sin() * 16_000.0) as i16
            })
            .collect();
        write_wav(&p, 24_000, &data);
        let mut w = Vec::new();
        let s = fit(decode(&p).unwrap(), 48_000, &mut w);
        assert_eq!(s.frames(), 48_000);
        for j in (100..47_000).step_by(997) {
            let want =
                (j as f32 * 440.0 / 48_000.0 * std::f32::consts::TAU).sin() * 16_000.0 / 32_768.0;
            assert!(
                (s.data[j] - want).abs() < 2e-3,
                "{j}: {} vs {want}",
                s.data[j]
            );
        }
        assert!(w.is_empty());
        let long = Sample {
            name: "long".into(),
            sample_rate: 1000,
            channels: 1,
            data: vec![0.0; 1000 * (MAX_SAMPLE_SECS as usize + 5)],
            stream: None,
        };
        let s = fit(long, 1000, &mut w);
        assert_eq!(s.frames(), 1000 * MAX_SAMPLE_SECS as usize);
        assert!(w[0].contains("only its first"), "{w:?}");
    }

    #[test]
    fn a_bank_keeps_within_its_budget_with_a_warning() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("bd")).unwrap();
        for f in ["a", "b", "c"] {
            write_wav(&d.path().join(format!("bd/{f}.wav")), 48_000, &[7; 1000]);
        }
        let mut w = Vec::new();
        let bank =
            Bank::load_within(d.path(), 48_000, 2500, StreamOptions::default(), &mut w).unwrap();
        let lens: Vec<usize> = bank.folders[0].1.iter().map(|s| s.frames()).collect();
        assert_eq!(lens, [1000, 1000, 500]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("sample c:") && w[0].contains("used up"),
            "{w:?}"
        );
    }

    #[test]
    fn symphonia_decodes_wav_like_hound() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.wav");
        let data: Vec<i16> = (0..5000)
            .map(|i| ((i * 7919) % 65_536 - 32_768) as i16)
            .collect();
        write_wav(&p, 44_100, &data);
        let a = Sample::load(&p).unwrap();
        let b = decode_symphonia(&p).unwrap();
        assert_eq!(b.sample_rate, 44_100);
        assert_eq!(a.data, b.data);
    }
}
