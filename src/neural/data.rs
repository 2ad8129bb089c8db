//! Dataset stage: a folder of MIDI files → tokenized pieces → a deterministic piece-level
//! train / validation / test split.
//!
//! The split depends only on each file's *name*: `fnv1a64(name) % 10` is 0..=7 → train,
//! 8 → validation, 9 → test (≈ 80/10/10). Adding or removing other files never moves a piece
//! between splits. For tiny corpora where a split comes out empty, the train piece with the
//! largest hash is moved into it (validation first, then test), so every split is non-empty
//! whenever there are at least three pieces.

use super::tokenize::{tokenize_file, Piece};
use super::{fnv1a64, LstmError, Result};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    /// The split a file of this name belongs to (before the tiny-corpus fallback).
    pub fn of(name: &str) -> Split {
        match fnv1a64(name.as_bytes()) % 10 {
            0..=7 => Split::Train,
            8 => Split::Valid,
            _ => Split::Test,
        }
    }
}

/// A tokenized corpus with its split.
#[derive(Clone, Debug, Default)]
pub struct Corpus {
    pub train: Vec<Piece>,
    pub valid: Vec<Piece>,
    pub test: Vec<Piece>,
    /// Files that could not be read, with the reason (reported, not fatal).
    pub skipped: Vec<String>,
}

impl Corpus {
    /// Loads every `.mid`/`.midi` file directly in `dir` (sorted by name).
    pub fn load_dir(dir: &Path) -> Result<Corpus> {
        let rd = std::fs::read_dir(dir).map_err(|cause| LstmError::Io {
            path: dir.into(),
            cause,
        })?;
        let mut paths: Vec<_> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi")
                })
            })
            .collect();
        paths.sort();
        let mut pieces = Vec::new();
        let mut skipped = Vec::new();
        for p in &paths {
            match tokenize_file(p) {
                Ok(piece) => pieces.push(piece),
                Err(e) => skipped.push(e.to_string()),
            }
        }
        if pieces.is_empty() {
            return Err(LstmError::Corpus(format!(
                "{}: no usable MIDI files ({} found, {} unreadable)",
                dir.display(),
                paths.len(),
                skipped.len()
            )));
        }
        let mut c = Corpus::split(pieces);
        c.skipped = skipped;
        Ok(c)
    }

    /// Splits pieces by the hash of their names (see the module doc).
    pub fn split(pieces: Vec<Piece>) -> Corpus {
        let mut c = Corpus::default();
        for p in pieces {
            match Split::of(&p.name) {
                Split::Train => c.train.push(p),
                Split::Valid => c.valid.push(p),
                Split::Test => c.test.push(p),
            }
        }
        for target in [Split::Valid, Split::Test] {
            let empty = match target {
                Split::Valid => c.valid.is_empty(),
                _ => c.test.is_empty(),
            };
            if empty && c.train.len() >= 2 {
                let (i, _) = c
                    .train
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, p)| fnv1a64(p.name.as_bytes()))
                    .expect("non-empty");
                let moved = c.train.remove(i);
                match target {
                    Split::Valid => c.valid.push(moved),
                    _ => c.test.push(moved),
                }
            }
        }
        c
    }

    /// All model sequences (part token + line) of a split.
    pub fn sequences(pieces: &[Piece]) -> Vec<Vec<u32>> {
        pieces.iter().flat_map(|p| p.sequences()).collect()
    }

    /// Number of predicted events (tokens after the part token) in a split.
    pub fn events(pieces: &[Piece]) -> usize {
        pieces
            .iter()
            .flat_map(|p| p.lines.iter())
            .map(|(_, l)| l.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neural::tokenize::Part;

    fn piece(name: &str) -> Piece {
        Piece {
            name: name.into(),
            transpose: 0,
            lines: vec![(Part::Soprano, vec![4, 5])],
        }
    }

    #[test]
    fn split_is_a_function_of_the_name_only() {
        let names: Vec<String> = (0..200).map(|i| format!("bwv{i}.mid")).collect();
        let a = Corpus::split(names.iter().map(|n| piece(n)).collect());
        let b = Corpus::split(names.iter().rev().map(|n| piece(n)).collect());
        let set = |v: &[Piece]| {
            let mut s: Vec<String> = v.iter().map(|p| p.name.clone()).collect();
            s.sort();
            s
        };
        assert_eq!(set(&a.train), set(&b.train));
        assert_eq!(set(&a.test), set(&b.test));
        // Roughly 80/10/10.
        assert!(a.train.len() > 140 && a.valid.len() > 8 && a.test.len() > 8);
        for p in &a.valid {
            assert_eq!(Split::of(&p.name), Split::Valid);
        }
    }

    #[test]
    fn tiny_corpus_gets_non_empty_splits() {
        let c = Corpus::split(vec![piece("a.mid"), piece("b.mid"), piece("c.mid")]);
        assert_eq!((c.train.len(), c.valid.len(), c.test.len()), (1, 1, 1));
    }
}
