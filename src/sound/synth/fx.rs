//! The two send buses every built-in voice can feed: delay ([`DelayBus`]) and reverb
//! ([`Reverb`]). Voices add their post-fader, post-pan output × their `delay`/`room` send into
//! the stereo send buffers while the engine renders a chunk; [`Buses::process`] then runs
//! both buses over the chunk and adds their wet output to the mix. The buses' own settings
//! (`delaytime`, `delayfeedback`, `pingpong`, `size`, `damp`) are global, as in SuperDirt:
//! the latest note that sends to a bus sets them, and so does a `param()` from any voice.
//! A `delaytime` in beats is turned into frames with the seconds-per-beat the scheduler
//! stamps on each note, so the delay follows the tempo.

use super::delay::DelayBus;
use super::reverb::Reverb;
use crate::engine::event::{Param, Sound};

/// Longest chunk the engine renders at once (the send buffers' size).
pub const CHUNK: usize = 1024;

pub struct Buses {
    sample_rate: f32,
    pub delay: DelayBus,
    pub reverb: Reverb,
    /// Interleaved stereo send buffers for the chunk being rendered.
    pub delay_in: Vec<f32>,
    pub room_in: Vec<f32>,
    pub delay_fed: bool,
    pub room_fed: bool,
    /// The unit of the last `delaytime` set, and the tempo it was set at.
    delay_in_secs: bool,
    beat_secs: f32,
    delaytime: f32,
}

impl Buses {
    pub fn new(sample_rate: f32) -> Self {
        Buses {
            sample_rate,
            delay: DelayBus::new(sample_rate),
            reverb: Reverb::new(sample_rate),
            delay_in: vec![0.0; 2 * CHUNK],
            room_in: vec![0.0; 2 * CHUNK],
            delay_fed: false,
            room_fed: false,
            delay_in_secs: false,
            beat_secs: 0.5,
            delaytime: 0.75,
        }
    }

    /// Takes the bus settings of a note that sends to a bus.
    pub fn note(&mut self, sound: &Sound) {
        if sound.delay > 0.0 {
            self.delay_in_secs = sound.delay_in_secs;
            if sound.beat_secs.is_finite() && sound.beat_secs > 0.0 {
                self.beat_secs = sound.beat_secs;
            }
            self.delaytime = sound.delaytime;
            self.delay.pingpong = sound.pingpong;
            self.delay.set_time_frames(self.delay_frames());
            self.delay.set_feedback(sound.delayfeedback);
        }
        if sound.room > 0.0 {
            self.reverb.set(sound.size, sound.damp);
        }
    }

    fn delay_frames(&self) -> f32 {
        let secs = if self.delay_in_secs {
            self.delaytime
        } else {
            self.delaytime * self.beat_secs
        };
        secs * self.sample_rate
    }

    /// A live bus setting; returns false for parameters that are not the buses'.
    pub fn set_param(&mut self, param: Param, value: f32) -> bool {
        let (lo, hi) = param.range();
        let v = value.clamp(lo, hi);
        match param {
            Param::DelayTime => {
                self.delaytime = v;
                self.delay.set_time_frames(self.delay_frames());
            }
            Param::DelayFeedback => self.delay.set_feedback(v),
            Param::Size => self.reverb.set_size(v),
            Param::Damp => self.reverb.set_damp(v),
            _ => return false,
        }
        true
    }

    /// Runs both buses over the chunk just rendered into `out` (interleaved stereo, at most
    /// `CHUNK` frames) and clears the send buffers for the next one.
    pub fn process(&mut self, out: &mut [f32]) {
        let n = out.len();
        self.delay.process(&self.delay_in[..n], self.delay_fed, out);
        self.reverb.process(&self.room_in[..n], self.room_fed, out);
        if self.delay_fed {
            self.delay_in[..n].fill(0.0);
        }
        if self.room_fed {
            self.room_in[..n].fill(0.0);
        }
        self.delay_fed = false;
        self.room_fed = false;
    }
}
