//! Sound: timestamped events → audio. [`synth`] is the engine the audio callback runs (voices,
//! the General MIDI player, the master chain); [`output`] opens the device (cpal) or the
//! null sink and runs the synth on the real-time thread, publishing the audio clock.

pub mod output;
pub mod synth;
