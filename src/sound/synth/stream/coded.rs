//! Streaming FLAC, Ogg Vorbis and anything else symphonia decodes: a [`CodedSource`] reads
//! a range of source frames by seeking the container (accurately, a little before the range)
//! and decoding forwards, placing each packet's frames at its timestamp and discarding what
//! lies before the range, so every frame has the value a decode of the whole file gives it.
//! Consecutive reads (what the streamer does) continue the decoder without seeking.

use std::path::{Path, PathBuf};

use symphonia::core::codecs::audio::AudioDecoder;
use symphonia::core::errors::Error;
use symphonia::core::formats::{FormatReader, SeekMode, SeekTo};
use symphonia::core::units::{TimeBase, Timestamp};

use crate::sound::synth::samples::{open_coded, Coded};
use crate::sound::synth::SynthError;

/// Source frames decoded and discarded before a seek target, so that a codec whose first
/// packet after a reset only primes its overlap (Vorbis) has settled by the target.
const PREROLL: usize = 8192;
/// A read this many source frames past what is decoded seeks instead of decoding through.
const SEEK_GAP: usize = 1 << 16;

/// A file that symphonia decodes, as the streamer reads it.
#[derive(Debug)]
pub struct CodedSource {
    pub path: PathBuf,
    /// Channels kept (the first two).
    pub channels: usize,
    pub src_rate: u32,
    /// Frames in the file at its own rate (from the container: FLAC's STREAMINFO, Ogg's
    /// last granule position).
    pub src_frames: usize,
}

/// An open file: its demuxer and decoder, and decoded frames `start..` not yet used.
pub struct CodedReader {
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// Decoded frames (interleaved, `channels` each) starting at source frame `start`.
    buf: Vec<f32>,
    start: usize,
    /// Whether the decoder has reached the end of the file.
    eof: bool,
    packet: Vec<f32>,
}

fn open(path: &Path) -> Result<(CodedReader, CodedSource), SynthError> {
    let name = path.display().to_string();
    let err = |m: String| SynthError::Decode(name.clone(), m);
    let Coded {
        format,
        decoder,
        track,
    } = open_coded(path)?;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|c| c.audio())
        .ok_or_else(|| err("no audio codec parameters".into()))?;
    let src_rate = params
        .sample_rate
        .ok_or_else(|| err("no sample rate".into()))?;
    let in_ch = params.channels.as_ref().map_or(0, |c| c.count());
    let src_frames = track
        .num_frames
        .ok_or_else(|| err("unknown length".into()))? as usize;
    // Timestamps must count frames for a packet's place to be its timestamp.
    if in_ch == 0 || track.time_base != TimeBase::try_from_recip(src_rate) {
        return Err(err("timestamps are not frames".into()));
    }
    let track_id = track.id;
    let channels = in_ch.min(2);
    Ok((
        CodedReader {
            format,
            decoder,
            track_id,
            buf: Vec::new(),
            start: 0,
            eof: false,
            packet: Vec::new(),
        },
        CodedSource {
            path: path.to_path_buf(),
            channels,
            src_rate,
            src_frames,
        },
    ))
}

impl CodedSource {
    /// Reads the container's header: format, rate and length. Fails for a file whose length
    /// the container does not give or whose timestamps are not frames (such files are
    /// decoded whole instead).
    pub fn open(path: &Path) -> Result<CodedSource, SynthError> {
        Ok(open(path)?.1)
    }

    /// Source frames `s0..s1` into `scratch` (interleaved, `channels` each; frames the file
    /// does not have are zeros).
    pub fn fill(
        &self,
        reader: &mut Option<Box<CodedReader>>,
        s0: usize,
        s1: usize,
        scratch: &mut Vec<f32>,
    ) -> Result<(), SynthError> {
        if reader.is_none() {
            *reader = Some(Box::new(open(&self.path)?.0));
        }
        let r = reader.as_mut().expect("opened above");
        let ch = self.channels;
        let end = r.start + r.buf.len() / ch;
        if s0 < r.start || s0 > end + SEEK_GAP {
            r.seek(s0, &self.path)?;
        } else {
            // Frames before `s0` go; the decoder skips any it has not reached yet.
            let drop = ((s0 - r.start) * ch).min(r.buf.len());
            r.buf.drain(..drop);
            r.start = s0;
        }
        while r.start + r.buf.len() / ch < s1 && !r.eof {
            r.decode_one(ch, &self.path)?;
        }
        scratch.clear();
        let have = (r.buf.len() / ch).min(s1 - s0);
        scratch.extend_from_slice(&r.buf[..have * ch]);
        scratch.resize((s1 - s0) * ch, 0.0);
        Ok(())
    }
}

impl CodedReader {
    /// Positions the decoder a little before `to`; what it decodes next starts at `to`.
    fn seek(&mut self, to: usize, path: &Path) -> Result<(), SynthError> {
        let ts = Timestamp::from(to.saturating_sub(PREROLL) as i64);
        self.buf.clear();
        self.start = to;
        self.eof = false;
        match self.format.seek(
            SeekMode::Accurate,
            SeekTo::Timestamp {
                ts,
                track_id: self.track_id,
            },
        ) {
            Ok(_) => {}
            // Past the end: nothing more to decode.
            Err(Error::SeekError(_)) => self.eof = true,
            Err(e) => {
                return Err(SynthError::Decode(
                    path.display().to_string(),
                    e.to_string(),
                ))
            }
        }
        self.decoder.reset();
        Ok(())
    }

    /// Decodes the next packet and appends its frames from the end of `buf` on.
    fn decode_one(&mut self, ch: usize, path: &Path) -> Result<(), SynthError> {
        let err = |m: String| SynthError::Decode(path.display().to_string(), m);
        let packet = match self.format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => {
                self.eof = true;
                return Ok(());
            }
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.eof = true;
                return Ok(());
            }
            Err(e) => return Err(err(e.to_string())),
        };
        if packet.track_id != self.track_id {
            return Ok(());
        }
        // Where the packet's frames lie in a decode of the whole file: its timestamp
        // (symphonia trims Vorbis' priming and padding, so timestamps count output frames
        // from 0; the track's `start_ts` does not shift them — the tests check both formats).
        let pts = packet.pts.get();
        let in_ch = match self.decoder.decode(&packet) {
            Ok(buf) => {
                buf.copy_to_vec_interleaved(&mut self.packet);
                buf.spec().channels().count().max(1)
            }
            Err(Error::DecodeError(_)) => return Ok(()),
            Err(e) => return Err(err(e.to_string())),
        };
        if in_ch < ch {
            return Err(err("the channel count changed".into()));
        }
        let end = (self.start + self.buf.len() / ch) as i64;
        let n = (self.packet.len() / in_ch) as i64;
        if pts + n <= end {
            return Ok(());
        }
        // A gap (a packet that did not decode) is silence.
        if pts > end {
            self.buf
                .resize(self.buf.len() + (pts - end) as usize * ch, 0.0);
        }
        let skip = (end - pts).max(0) as usize;
        for f in self.packet.chunks_exact(in_ch).skip(skip) {
            self.buf.extend_from_slice(&f[..ch]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sound::synth::samples::decode_symphonia;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/stream/long")
            .join(name)
    }

    /// Reads at scattered and consecutive places give exactly the frames of a whole decode,
    /// and the header's length is the decoded length.
    #[test]
    fn reads_anywhere_equal_a_whole_decode() {
        for file in ["c.flac", "d.ogg"] {
            let p = fixture(file);
            let whole = decode_symphonia(&p).unwrap();
            let src = CodedSource::open(&p).unwrap();
            let ch = src.channels;
            assert_eq!(ch, whole.channels, "{file}");
            assert_eq!(src.src_frames, whole.frames(), "{file}: header length");
            let n = src.src_frames;
            let mut reader = None;
            let mut scratch = Vec::new();
            let spans = [
                (0, 100),
                (100, 5000),
                (5000, 9096),
                (n / 2, n / 2 + 3000),
                (1234, 1300),
                (n - 500, n),
                (n - 10, n + 10),
                (70_000, 70_001),
                (3, 4),
            ];
            for (a, b) in spans {
                src.fill(&mut reader, a, b, &mut scratch).unwrap();
                assert_eq!(scratch.len(), (b - a) * ch, "{file} {a}..{b}");
                let have = b.min(n).saturating_sub(a) * ch;
                let want = &whole.data[a * ch..a * ch + have];
                let first = scratch[..have].iter().zip(want).position(|(x, y)| x != y);
                assert_eq!(first, None, "{file} {a}..{b}");
                assert!(scratch[have..].iter().all(|&x| x == 0.0));
            }
        }
    }
}
