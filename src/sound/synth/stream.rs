//! Streaming long sample files instead of holding them in memory.
//!
//! A sample file longer than [`StreamOptions::after_secs`] (default [`STREAM_AFTER_SECS`]) at the
//! engine rate is not decoded whole when its bank loads: the bank keeps its first and last
//! [`HEAD_SECS`] ([`Streamed`]), and the rest is read on demand. When a note of such a sample
//! starts forwards past the head, the engine sends a [`Request`] (voice slot, sample, first
//! frame, epoch) over a ring to the [`Streamer`], which reads and resamples the file from that
//! frame into the voice slot's own preallocated ring (`rtrb`, [`RING_FRAMES`] frames) and keeps
//! it topped up. The voice pops frames as it plays; a frame that has not arrived in time is
//! silence and counts as an underrun (the voice never waits). Every frame carries its
//! request's epoch, so frames left in a reused slot's ring from an earlier note are skipped.
//!
//! Live, the streamer runs on its own thread started with the synth ([`Streamer::spawn`]);
//! offline (`weft render`) the engine pumps it synchronously before each stretch it renders,
//! so rings are always full and renders are byte-identical to fully decoded files.
//!
//! Rules for streamed files: forwards play streams from `begin` (a `begin` past the head is
//! a seek; live its first frames may come late); reversed play (`speed < 0`) and `loop`
//! play only the part inside the preloaded head or tail (a part in between is cut to the
//! tail, or silent if it lies wholly between them); a sounding note turned backwards by
//! `param` past the head ends.
//!
//! Formats: a [`Source`] is a WAV file read with hound ([`WavSource`], seeking by frame) or
//! a file symphonia decodes — FLAC, Ogg Vorbis — ([`CodedSource`], seeking the container
//! accurately a little before the wanted frame, decoding forwards and placing each packet's
//! frames at its timestamp). Both resample in pieces with the Catmull-Rom window that
//! `samples::fit` uses on a whole file, so the pieces join into the same values. A coded file
//! whose container does not give its length is decoded whole (capped at `MAX_SAMPLE_SECS`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use super::sampler::Sample;
use super::SynthError;

/// Files longer than this (seconds at the engine rate) are streamed.
pub const STREAM_AFTER_SECS: f32 = 10.0;
/// Seconds preloaded at the start and at the end of a streamed file. At speed 4 the head
/// lasts 0.5 s of playing, the streamer's latency budget before a note needs its ring.
pub const HEAD_SECS: f32 = 2.0;
/// Longest streamed file, in seconds (longer ones are cut there with a warning).
pub const MAX_STREAM_SECS: f32 = 7200.0;
/// Frames each voice slot's ring holds (0.34 s at 48 kHz).
pub const RING_FRAMES: usize = 1 << 14;
/// Frames the streamer reads per step.
const READ_FRAMES: usize = 4096;
/// Requests that may wait for the streamer.
const REQUESTS: usize = 256;
/// The streaming thread's sleep between polls while a voice streams: a ring of
/// [`RING_FRAMES`] lasts 85 ms even at speed 4, so 1 ms keeps it full.
pub const POLL_BUSY: std::time::Duration = std::time::Duration::from_millis(1);
/// Its sleep while nothing streams: a new note finds its first [`HEAD_SECS`] in memory, so
/// only a `begin` past the head can wait this long for its first frames.
pub const POLL_IDLE: std::time::Duration = std::time::Duration::from_millis(5);

/// How banks decide what to stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamOptions {
    /// Files longer than this many seconds are streamed (`f32::INFINITY`: none).
    pub after_secs: f32,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            after_secs: STREAM_AFTER_SECS,
        }
    }
}

mod coded;
pub use coded::{CodedReader, CodedSource};

/// Frames at the engine `rate` of `src_frames` frames at `src_rate`: what a full decode and
/// `fit` give, uncut.
fn engine_frames(src_rate: u32, rate: u32, src_frames: usize) -> usize {
    if src_rate == rate || src_frames < 2 {
        src_frames
    } else {
        let ratio = src_rate as f64 / rate as f64;
        ((src_frames as f64) / ratio).floor().max(1.0) as usize
    }
}

/// Engine-rate frames `from..to` of a source with `src_frames` frames of `ch` channels at
/// `src_rate`, appended to `out`: `fill(s0, s1, scratch)` puts source frames `s0..s1` in
/// `scratch`, and this resamples them exactly as [`super::samples::fit`] resamples a whole
/// file (the same Catmull-Rom window, clamped at the file's ends), so pieces read this way
/// join into the same values.
fn read_resampled(
    (src_rate, rate, src_frames, ch): (u32, u32, usize, usize),
    from: usize,
    to: usize,
    scratch: &mut Vec<f32>,
    out: &mut Vec<f32>,
    fill: impl FnOnce(usize, usize, &mut Vec<f32>) -> Result<(), SynthError>,
) -> Result<(), SynthError> {
    let same = src_rate == rate || src_frames < 2;
    let ratio = src_rate as f64 / rate as f64;
    // Source frames needed: the Catmull-Rom window around each output frame.
    let (s0, s1) = if same {
        (from, to)
    } else {
        let lo = ((from as f64 * ratio).floor() as isize - 1).max(0) as usize;
        let hi = (((to - 1) as f64 * ratio).floor() as usize + 3).min(src_frames);
        (lo, hi)
    };
    fill(s0, s1, scratch)?;
    if same {
        out.extend_from_slice(scratch);
        return Ok(());
    }
    let last = src_frames as isize - 1;
    let at = |i: isize, c: usize| -> f32 {
        let i = i.clamp(0, last) as usize;
        scratch.get((i - s0) * ch + c).copied().unwrap_or(0.0)
    };
    for j in from..to {
        super::samples::catmull_rom(&at, j as f64 * ratio, ch, out);
    }
    Ok(())
}

/// A WAV file as the engine reads it (hound: faster than symphonia for PCM).
#[derive(Debug)]
pub struct WavSource {
    pub path: PathBuf,
    channels: usize,
    src_rate: u32,
    src_frames: usize,
    bits: u16,
    float: bool,
}

type WavReader = hound::WavReader<std::io::BufReader<std::fs::File>>;

impl WavSource {
    pub fn open(path: &Path) -> Result<WavSource, SynthError> {
        let r = hound::WavReader::open(path)
            .map_err(|e| SynthError::Wav(path.display().to_string(), e))?;
        let spec = r.spec();
        Ok(WavSource {
            path: path.to_path_buf(),
            channels: (spec.channels.max(1) as usize).min(2),
            src_rate: spec.sample_rate,
            src_frames: r.duration() as usize,
            bits: spec.bits_per_sample,
            float: spec.sample_format == hound::SampleFormat::Float,
        })
    }

    /// Source frames `s0..s1` into `scratch` (interleaved, `channels` each).
    fn fill(
        &self,
        reader: &mut Option<WavReader>,
        s0: usize,
        s1: usize,
        scratch: &mut Vec<f32>,
    ) -> Result<(), SynthError> {
        let name = || self.path.display().to_string();
        if reader.is_none() {
            *reader =
                Some(hound::WavReader::open(&self.path).map_err(|e| SynthError::Wav(name(), e))?);
        }
        let r = reader.as_mut().expect("opened above");
        let in_ch = r.spec().channels.max(1) as usize;
        r.seek(s0 as u32).map_err(|e| SynthError::Io(name(), e))?;
        scratch.clear();
        let ch = self.channels;
        let n = (s1 - s0) * in_ch;
        let mut k = 0usize;
        let mut push = |v: f32| {
            if k % in_ch < ch {
                scratch.push(v);
            }
            k += 1;
        };
        if self.float {
            for s in r.samples::<f32>().take(n) {
                push(s.map_err(|e| SynthError::Wav(name(), e))?);
            }
        } else {
            let scale = 1.0 / (1u64 << (self.bits - 1)) as f32;
            for s in r.samples::<i32>().take(n) {
                push(s.map_err(|e| SynthError::Wav(name(), e))? as f32 * scale);
            }
        }
        Ok(())
    }
}

/// Where a streamed sample's frames come from: WAV through hound, anything else through
/// symphonia. The streamer and offline renders only call [`Source::read`].
#[derive(Debug)]
pub enum Source {
    Wav(WavSource),
    Coded(CodedSource),
}

/// An open file of a [`Source`], kept between reads so consecutive reads continue.
#[derive(Default)]
pub enum Reader {
    #[default]
    Closed,
    Wav(Option<WavReader>),
    Coded(Option<Box<CodedReader>>),
}

impl Source {
    /// Opens `path`'s header: WAV files with hound, any other with symphonia.
    pub fn open(path: &Path) -> Result<Source, SynthError> {
        let wav = path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("wav"));
        Ok(if wav {
            Source::Wav(WavSource::open(path)?)
        } else {
            Source::Coded(CodedSource::open(path)?)
        })
    }

    pub fn path(&self) -> &Path {
        match self {
            Source::Wav(s) => &s.path,
            Source::Coded(s) => &s.path,
        }
    }

    /// Channels kept (at most two).
    pub fn channels(&self) -> usize {
        match self {
            Source::Wav(s) => s.channels,
            Source::Coded(s) => s.channels,
        }
    }

    fn format(&self) -> (u32, usize, usize) {
        match self {
            Source::Wav(s) => (s.src_rate, s.src_frames, s.channels),
            Source::Coded(s) => (s.src_rate, s.src_frames, s.channels),
        }
    }

    /// Frames at the engine `rate` (what a full decode and `fit` would give, uncut).
    pub fn frames(&self, rate: u32) -> usize {
        let (src_rate, src_frames, _) = self.format();
        engine_frames(src_rate, rate, src_frames)
    }

    /// Engine-rate frames `from..to` appended to `out` (interleaved, `channels()` each),
    /// the same values a full decode and `fit` give. `scratch` holds source frames.
    pub fn read(
        &self,
        reader: &mut Reader,
        rate: u32,
        from: usize,
        to: usize,
        scratch: &mut Vec<f32>,
        out: &mut Vec<f32>,
    ) -> Result<(), SynthError> {
        let to = to.min(self.frames(rate));
        if from >= to {
            return Ok(());
        }
        let (src_rate, src_frames, ch) = self.format();
        let fmt = (src_rate, rate, src_frames, ch);
        match self {
            Source::Wav(s) => {
                if !matches!(reader, Reader::Wav(_)) {
                    *reader = Reader::Wav(None);
                }
                let Reader::Wav(r) = reader else {
                    unreachable!("set above")
                };
                read_resampled(fmt, from, to, scratch, out, |a, b, sc| s.fill(r, a, b, sc))
            }
            Source::Coded(s) => {
                if !matches!(reader, Reader::Coded(_)) {
                    *reader = Reader::Coded(None);
                }
                let Reader::Coded(r) = reader else {
                    unreachable!("set above")
                };
                read_resampled(fmt, from, to, scratch, out, |a, b, sc| s.fill(r, a, b, sc))
            }
        }
    }
}

/// What a streamed sample keeps in memory besides its head (`Sample::data`): its source,
/// full length and preloaded tail.
#[derive(Debug)]
pub struct Streamed {
    pub source: Source,
    /// The engine rate the frames below count at.
    pub rate: u32,
    /// Frames at the engine rate (capped at [`MAX_STREAM_SECS`]).
    pub frames: usize,
    /// Frames in the head (`Sample::data`).
    pub head: usize,
    /// First frame of the tail.
    pub tail_start: usize,
    /// Frames `tail_start..frames`, interleaved.
    pub tail: Vec<f32>,
}

/// Loads `source` as a streamed sample: its head and tail decoded, the rest left on disk.
pub fn load_streamed(
    source: Source,
    rate: u32,
    name: String,
    warnings: &mut Vec<String>,
) -> Result<Sample, SynthError> {
    let max = (MAX_STREAM_SECS * rate as f32) as usize;
    let mut frames = source.frames(rate);
    if frames > max {
        warnings.push(format!(
            "sample {name}: {:.1} s is longer than {MAX_STREAM_SECS} s; only its first {MAX_STREAM_SECS} s are played",
            frames as f32 / rate as f32
        ));
        frames = max;
    }
    let keep = ((HEAD_SECS * rate as f32) as usize).min(frames);
    let tail_start = frames.saturating_sub(keep).max(keep);
    let (mut reader, mut scratch) = (Reader::Closed, Vec::new());
    let mut head = Vec::new();
    source.read(&mut reader, rate, 0, keep, &mut scratch, &mut head)?;
    let mut tail = Vec::new();
    source.read(
        &mut reader,
        rate,
        tail_start,
        frames,
        &mut scratch,
        &mut tail,
    )?;
    let channels = source.channels();
    Ok(Sample {
        name,
        sample_rate: rate,
        channels,
        data: head,
        stream: Some(Arc::new(Streamed {
            source,
            rate,
            frames,
            head: keep,
            tail_start,
            tail,
        })),
    })
}

/// One frame in a voice slot's ring: the epoch of the request it answers, left, right.
pub type Item = (u32, f32, f32);

/// A voice asks for `sample`'s frames from `from` (up to its tail) into slot `slot`'s ring.
pub struct Request {
    pub slot: usize,
    pub epoch: u32,
    pub sample: Arc<Streamed>,
    pub from: usize,
}

struct Job {
    epoch: u32,
    sample: Arc<Streamed>,
    next: usize,
    reader: Reader,
}

/// The reading end: takes requests and fills the voice slots' rings (never on the audio
/// thread).
pub struct Streamer {
    requests: rtrb::Consumer<Request>,
    rings: Vec<rtrb::Producer<Item>>,
    jobs: Vec<Option<Job>>,
    scratch: Vec<f32>,
    buf: Vec<f32>,
    /// Files that failed to read (counted, the voice hears silence).
    pub errors: Arc<AtomicU64>,
}

/// The audio side's ends: the request ring and one ring per voice slot.
pub struct Taps {
    pub requests: rtrb::Producer<Request>,
    pub rings: Vec<rtrb::Consumer<Item>>,
}

impl Streamer {
    /// A streamer for `slots` voice slots and the audio side's ends.
    pub fn new(slots: usize) -> (Streamer, Taps) {
        let (req_tx, req_rx) = rtrb::RingBuffer::new(REQUESTS);
        let (tx, rx): (Vec<_>, Vec<_>) = (0..slots)
            .map(|_| rtrb::RingBuffer::new(RING_FRAMES))
            .unzip();
        (
            Streamer {
                requests: req_rx,
                rings: tx,
                jobs: (0..slots).map(|_| None).collect(),
                scratch: Vec::new(),
                buf: Vec::new(),
                errors: Arc::default(),
            },
            Taps {
                requests: req_tx,
                rings: rx,
            },
        )
    }

    /// Takes new requests and tops every ring up as far as it goes. Returns whether it did
    /// anything.
    pub fn pump(&mut self) -> bool {
        let mut worked = false;
        while let Ok(r) = self.requests.pop() {
            worked = true;
            if let Some(j) = self.jobs.get_mut(r.slot) {
                *j = Some(Job {
                    epoch: r.epoch,
                    next: r.from,
                    sample: r.sample,
                    reader: Reader::Closed,
                });
            }
        }
        for (job, ring) in self.jobs.iter_mut().zip(&mut self.rings) {
            let Some(j) = job else { continue };
            loop {
                let end = j.sample.tail_start.min(j.sample.frames);
                let room = ring.slots();
                if j.next >= end || room == 0 {
                    if j.next >= end {
                        *job = None;
                    }
                    break;
                }
                let n = room.min(READ_FRAMES).min(end - j.next);
                self.buf.clear();
                let src = &j.sample.source;
                if src
                    .read(
                        &mut j.reader,
                        j.sample.rate,
                        j.next,
                        j.next + n,
                        &mut self.scratch,
                        &mut self.buf,
                    )
                    .is_err()
                {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                    *job = None;
                    break;
                }
                let ch = src.channels();
                for f in self.buf.chunks_exact(ch) {
                    let (l, r) = if ch == 1 { (f[0], f[0]) } else { (f[0], f[1]) };
                    // Room was checked above; a full ring only drops the rest.
                    let _ = ring.push((j.epoch, l, r));
                }
                j.next += n;
                worked = true;
            }
        }
        worked
    }

    /// Whether a voice slot is being streamed (its ring still to be filled to the tail).
    pub fn busy(&self) -> bool {
        self.jobs.iter().any(Option::is_some)
    }

    /// How long the thread sleeps after a pump that found nothing to do: [`POLL_BUSY`] while
    /// a voice streams (its ring drains), [`POLL_IDLE`] otherwise.
    pub fn poll_interval(&self) -> std::time::Duration {
        if self.busy() {
            POLL_BUSY
        } else {
            POLL_IDLE
        }
    }

    /// Runs the streamer on its own thread until `stop` is set, sleeping [`Self::poll_interval`]
    /// when there is nothing to do. It polls rather than being woken: waking a thread is a
    /// syscall, which the audio callback must not make.
    pub fn spawn(mut self, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("weft-stream".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if !self.pump() {
                        std::thread::sleep(self.poll_interval());
                    }
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread polls fast only while a voice streams: idle before a request, busy while
    /// the ring is filled, idle again once the job reached the tail.
    #[test]
    fn the_streamer_polls_slowly_when_nothing_streams() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for i in 0..5 * 48_000 {
            w.write_sample((i % 1000) as i16).unwrap();
        }
        w.finalize().unwrap();
        let mut warnings = Vec::new();
        let s =
            load_streamed(Source::open(&p).unwrap(), 48_000, "a".into(), &mut warnings).unwrap();
        let st = s.stream.clone().unwrap();
        let (mut streamer, mut taps) = Streamer::new(2);
        assert_eq!(streamer.poll_interval(), POLL_IDLE);
        assert!(!streamer.pump());
        taps.requests
            .push(Request {
                slot: 1,
                epoch: 7,
                from: st.head,
                sample: st.clone(),
            })
            .unwrap();
        assert!(streamer.pump());
        assert!(streamer.busy());
        assert_eq!(streamer.poll_interval(), POLL_BUSY);
        let mut got = 0;
        for _ in 0..100 {
            while let Ok((epoch, _, _)) = taps.rings[1].pop() {
                assert_eq!(epoch, 7);
                got += 1;
            }
            if !streamer.busy() {
                break;
            }
            streamer.pump();
        }
        while taps.rings[1].pop().is_ok() {
            got += 1;
        }
        assert_eq!(got, st.tail_start - st.head);
        assert_eq!(streamer.poll_interval(), POLL_IDLE);
    }
}
