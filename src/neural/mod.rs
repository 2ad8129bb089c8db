//! Neural generation stage: a note LSTM trained on real music, stepped live by the scheduler.
//!
//! Data flows through the submodules in this order:
//!
//! ```text
//! MIDI files ──tokenize──▶ Piece (per-part token lines on a 16th grid, key-normalised)
//!            ──data──────▶ Corpus (deterministic train/valid/test split by file-name hash)
//!            ──train─────▶ Net (candle: embedding → stacked LSTM → linear), AdamW
//!            ──save──────▶ models/NAME/{model.safetensors, config.json, MODEL.md}
//! models/NAME ──Model::load──▶ Model (plain-f32 weights, one-thread stepper)
//!            ──Generator─▶ Step::{Note, Hold, Rest}, one per 16th, on the scheduler thread
//! ```
//!
//! `markov` holds the n-gram baselines and `eval` scores both kinds of model on exactly the
//! same token sequences. `cli` is the `weft train` command.

pub mod data;
pub mod eval;
pub mod generate;
pub mod infer;
pub mod markov;
pub mod model;
pub mod tokenize;
pub mod train;
pub mod voices;

pub use generate::{Controls, Generator, Step};
pub use infer::Model;
pub use tokenize::Part;

use std::path::PathBuf;

/// Everything that can go wrong in the LSTM stage. File errors always name the file.
#[derive(Debug, thiserror::Error)]
pub enum LstmError {
    // Not named `source`: the cause is in the message, and a `source()` would make
    // anyhow's `{:#}` print it a second time.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{path}: not a readable MIDI file: {reason}")]
    Midi { path: PathBuf, reason: String },
    #[error("{path}: {reason}")]
    BadModel { path: PathBuf, reason: String },
    #[error("{0}")]
    Corpus(String),
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, LstmError>;

/// 64-bit FNV-1a: the stable hash used for the corpus split and for weight provenance.
/// (Stable across platforms and Rust versions, unlike `std::hash`.)
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    #[test]
    fn fnv_matches_reference_vectors() {
        // Reference values of the FNV-1a 64 specification.
        assert_eq!(super::fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(super::fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(super::fnv1a64(b"foobar"), 0x85944171f73967e8);
    }
}
