//! General MIDI voices through a SoundFont, played by rustysynth. The SoundFont is parsed
//! once at engine construction; on the audio thread this only forwards note/controller
//! messages and renders into preallocated scratch buffers that the engine mixes in.
//!
//! Timing: rustysynth applies messages at the start of its next internal block, so GM
//! onsets land within `GM_BLOCK` frames after their event frame (built-in synths are exact).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use super::SynthError;
use crate::engine::event::TrackId;

/// rustysynth's internal block: the GM onset granularity (0.33 ms at 48 kHz).
pub const GM_BLOCK: usize = 16;
/// Longest segment rendered in one call; longer ones are split.
const SCRATCH: usize = 1024;
/// Sounding GM notes remembered for note-off and per-track parameters.
const MAX_NOTES: usize = 256;

#[derive(Clone, Copy)]
struct Held {
    track: TrackId,
    channel: u8,
    key: u8,
}

pub struct Gm {
    synth: Synthesizer,
    left: Vec<f32>,
    right: Vec<f32>,
    programs: [u8; 16],
    held: Vec<Held>,
}

impl Gm {
    pub fn load(path: &Path, sample_rate: u32, polyphony: usize) -> Result<Gm, SynthError> {
        let io = |e| SynthError::Io(path.display().to_string(), e);
        let mut file = std::io::BufReader::new(File::open(path).map_err(io)?);
        let font = SoundFont::new(&mut file)
            .map_err(|e| SynthError::SoundFont(path.display().to_string(), e.to_string()))?;
        let mut settings = SynthesizerSettings::new(sample_rate as i32);
        settings.block_size = GM_BLOCK;
        settings.maximum_polyphony = polyphony.clamp(8, 256);
        let synth = Synthesizer::new(&Arc::new(font), &settings)
            .map_err(|e| SynthError::SoundFont(path.display().to_string(), e.to_string()))?;
        Ok(Gm {
            synth,
            left: vec![0.0; SCRATCH],
            right: vec![0.0; SCRATCH],
            programs: [0; 16],
            held: Vec::with_capacity(MAX_NOTES),
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn note_on(
        &mut self,
        track: TrackId,
        channel: u8,
        key: u8,
        vel: u8,
        program: u8,
        gain: f32,
        pan: f32,
    ) {
        let ch = channel & 15;
        if ch != 9 && self.programs[ch as usize] != program {
            self.programs[ch as usize] = program;
            self.synth
                .process_midi_message(ch as i32, 0xC0, (program & 127) as i32, 0);
        }
        self.controls(ch, gain, pan);
        self.synth
            .note_on(ch as i32, key as i32, vel.min(127) as i32);
        if self.held.len() == MAX_NOTES {
            self.held.remove(0);
        }
        self.held.push(Held {
            track,
            channel: ch,
            key,
        });
    }

    fn controls(&mut self, ch: u8, gain: f32, pan: f32) {
        let vol = (gain.clamp(0.0, 1.27) * 100.0).round() as i32;
        let pan = (64.0 + pan.clamp(-1.0, 1.0) * 63.0).round() as i32;
        self.synth.process_midi_message(ch as i32, 0xB0, 7, vol);
        self.synth.process_midi_message(ch as i32, 0xB0, 10, pan);
    }

    /// Ends the GM notes of (track, key); returns whether any was sounding.
    pub fn note_off(&mut self, track: TrackId, key: u8) -> bool {
        let mut found = false;
        let mut i = 0;
        while i < self.held.len() {
            let h = self.held[i];
            if h.track == track && h.key == key {
                self.synth.note_off(h.channel as i32, key as i32);
                self.held.swap_remove(i);
                found = true;
            } else {
                i += 1;
            }
        }
        found
    }

    /// Applies gain or pan to the channel(s) the track is sounding on.
    pub fn track_control(&mut self, track: TrackId, gain: Option<f32>, pan: Option<f32>) {
        let synth = &mut self.synth;
        for h in self.held.iter().filter(|h| h.track == track) {
            if let Some(g) = gain {
                let vol = (g.clamp(0.0, 1.27) * 100.0).round() as i32;
                synth.process_midi_message(h.channel as i32, 0xB0, 7, vol);
            }
            if let Some(p) = pan {
                let p = (64.0 + p.clamp(-1.0, 1.0) * 63.0).round() as i32;
                synth.process_midi_message(h.channel as i32, 0xB0, 10, p);
            }
        }
    }

    /// Adds the SoundFont output into interleaved stereo `out`.
    pub fn render_add(&mut self, out: &mut [f32]) {
        for chunk in out.chunks_mut(2 * SCRATCH) {
            let n = chunk.len() / 2;
            let (l, r) = (&mut self.left[..n], &mut self.right[..n]);
            self.synth.render(l, r);
            for (i, f) in chunk.chunks_exact_mut(2).enumerate() {
                f[0] += l[i];
                f[1] += r[i];
            }
        }
    }
}
