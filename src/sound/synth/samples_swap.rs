//! Hot-swapping sample banks into a running synth.
//!
//! Data flow: the compile worker, after a saved patch loads, asks the [`BankSwap`] for the
//! *generation* of each bank the patch uses ([`BankSwap::bind`]). A bank the synth already
//! holds (same folder, same sub-folders and file counts) keeps its generation; a new one is
//! decoded right there, on the compile worker ([`Bank::load`]), and pushed with a fresh
//! generation into a lock-free ring the audio thread reads. Every sample note carries its
//! bank's generation (`Sound::bank`), so the new bank starts sounding with the first note of
//! the new version — at the reload boundary — while notes already sounding finish from the
//! bank they started in.
//!
//! The audio side ([`Banks`]) holds the bank the synth started with (generation 0) and the
//! last [`BANK_SLOTS`] banks pushed, replaced first in, first out. The feed keeps the same
//! list in the same order, so it knows which banks the synth still has without asking. A
//! replaced bank goes back over a second ring and is dropped on the compile worker: the audio
//! thread never frees one (if that ring were ever full it leaks the bank rather than free it).
//! Popping, looking up and retiring are allocation- and lock-free; the mutex around the feed
//! is only taken by the compile worker.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::sampler::Sample;
use super::samples::{Bank, FolderInfo};
use super::SynthError;

/// Banks besides the startup one the synth holds at once (a patch's notes from an older bank
/// than these play silently; each `samples("…")` change makes one).
pub const BANK_SLOTS: usize = 4;
/// Banks that may wait in the ring for the audio thread.
const PENDING: usize = 16;

type Incoming = (u32, Arc<Bank>);

/// The synth's banks (audio side).
pub struct Banks {
    startup: Arc<Bank>,
    slots: [Option<Incoming>; BANK_SLOTS],
    /// The slot the next pushed bank replaces (first in, first out, as the feed assumes).
    next: usize,
    incoming: Option<rtrb::Consumer<Incoming>>,
    retired: Option<rtrb::Producer<Arc<Bank>>>,
}

impl Banks {
    pub fn new(startup: Arc<Bank>) -> Banks {
        Banks {
            startup,
            slots: Default::default(),
            next: 0,
            incoming: None,
            retired: None,
        }
    }

    /// The bank the synth started with (generation 0).
    pub fn startup(&self) -> &Arc<Bank> {
        &self.startup
    }

    /// The bank of generation `gen`, if the synth holds it.
    #[inline]
    pub fn bank(&self, gen: u32) -> Option<&Bank> {
        if gen == 0 {
            return Some(&self.startup);
        }
        self.slots
            .iter()
            .flatten()
            .find(|(g, _)| *g == gen)
            .map(|(_, b)| &**b)
    }

    /// Sample `index` of `folder` in bank `gen` (see [`Bank::get`]).
    #[inline]
    pub fn get(&self, gen: u32, folder: u16, index: u16) -> Option<&Sample> {
        self.bank(gen)?.get(folder, index)
    }

    /// Takes the banks the feed has pushed since the last call. No allocation, no lock.
    pub fn poll(&mut self) {
        let Some(rx) = &mut self.incoming else {
            return;
        };
        while let Ok(b) = rx.pop() {
            let old = self.slots[self.next].replace(b);
            self.next = (self.next + 1) % BANK_SLOTS;
            if let Some((_, old)) = old {
                let back = match &mut self.retired {
                    Some(tx) => tx.push(old).err().map(|rtrb::PushError::Full(b)| b),
                    None => Some(old),
                };
                // Never free a bank here: with nowhere to send it, it is leaked.
                if let Some(b) = back {
                    std::mem::forget(b);
                }
            }
        }
    }

    /// Makes sure bank `gen` has been taken from the ring if it was pushed (a note may arrive
    /// in the same block as its bank).
    #[inline]
    pub fn ensure(&mut self, gen: u32) {
        if self.bank(gen).is_none() {
            self.poll();
        }
    }

    /// Connects a feed: banks it pushes reach these slots. `startup` is the folder the
    /// startup bank was loaded from and its listing (generation 0 stands for it).
    pub fn connect(&mut self, rate: u32, startup: Option<(PathBuf, Vec<FolderInfo>)>) -> BankFeed {
        let (tx, rx) = rtrb::RingBuffer::new(PENDING);
        let (back_tx, back_rx) = rtrb::RingBuffer::new(PENDING + BANK_SLOTS);
        self.incoming = Some(rx);
        self.retired = Some(back_tx);
        // Slots filled before this feed existed are not in its list: clear them.
        self.slots = Default::default();
        self.next = 0;
        BankFeed {
            rate,
            incoming: tx,
            retired: back_rx,
            startup: startup.map(|(d, f)| (canonical(&d), f)),
            known: VecDeque::new(),
            next_gen: 1,
        }
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// The compile worker's end: loads banks and pushes them to the synth.
pub struct BankFeed {
    rate: u32,
    incoming: rtrb::Producer<Incoming>,
    retired: rtrb::Consumer<Arc<Bank>>,
    startup: Option<(PathBuf, Vec<FolderInfo>)>,
    /// The banks pushed, oldest first, as many as the synth keeps: (folder, listing, gen).
    known: VecDeque<(PathBuf, Vec<FolderInfo>, u32)>,
    next_gen: u32,
}

impl BankFeed {
    /// The generation for the bank in `dir` listed as `folders`: the startup bank's (0) or a
    /// held one's, else the folder is decoded now and pushed to the synth under a new one.
    /// Decoding problems of single files are `warnings` (their index plays silence).
    pub fn bind(
        &mut self,
        dir: &Path,
        folders: &[FolderInfo],
        warnings: &mut Vec<String>,
    ) -> Result<u32, SynthError> {
        // Banks the synth let go of are freed here, off the audio thread.
        while self.retired.pop().is_ok() {}
        let dir = canonical(dir);
        if let Some((d, f)) = &self.startup {
            if *d == dir && f == folders {
                return Ok(0);
            }
        }
        if let Some((_, _, g)) = self
            .known
            .iter()
            .find(|(d, f, _)| *d == dir && f == folders)
        {
            return Ok(*g);
        }
        let bank = Bank::load(&dir, self.rate, warnings)?;
        let gen = self.next_gen;
        self.incoming.push((gen, Arc::new(bank))).map_err(|_| {
            SynthError::Config(format!(
                "{}: the synth is not taking new sample banks (is the audio running?)",
                dir.display()
            ))
        })?;
        self.next_gen += 1;
        self.known.push_back((dir, folders.to_vec(), gen));
        if self.known.len() > BANK_SLOTS {
            self.known.pop_front();
        }
        Ok(gen)
    }
}

/// The shared handle a play session gives both the synth (which connects a feed when it is
/// built, [`super::Engine::new`]) and the live engine's compile worker (which binds banks
/// through it). Before a synth connects, [`BankSwap::bind`] answers `None`: notes use the
/// startup bank.
#[derive(Clone, Default)]
pub struct BankSwap(Arc<Mutex<Option<BankFeed>>>);

impl std::fmt::Debug for BankSwap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BankSwap")
    }
}

impl BankSwap {
    pub fn new() -> BankSwap {
        BankSwap::default()
    }

    /// Installs the feed of the synth that will play (a later synth replaces an earlier one
    /// that was built and then not used).
    pub fn set(&self, feed: BankFeed) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(feed);
    }

    /// [`BankFeed::bind`] on the connected synth's feed; `None` when none is connected.
    pub fn bind(
        &self,
        dir: &Path,
        folders: &[FolderInfo],
        warnings: &mut Vec<String>,
    ) -> Result<Option<u32>, SynthError> {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match g.as_mut() {
            Some(feed) => feed.bind(dir, folders, warnings).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bank(name: &str) -> Bank {
        Bank {
            flat: Vec::new(),
            folders: vec![(
                name.into(),
                vec![Arc::new(Sample {
                    name: name.into(),
                    sample_rate: 48_000,
                    channels: 1,
                    data: vec![0.5; 4],
                })],
            )],
        }
    }

    fn kit(root: &Path, folder: &str) -> Vec<FolderInfo> {
        std::fs::create_dir_all(root.join(folder)).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(root.join(folder).join("a.wav"), spec).unwrap();
        for x in [1i16, 2, 3] {
            w.write_sample(x).unwrap();
        }
        w.finalize().unwrap();
        super::super::scan(root).unwrap()
    }

    #[test]
    fn banks_arrive_in_order_and_the_oldest_is_retired_off_the_audio_side() {
        let d = tempfile::tempdir().unwrap();
        let mut banks = Banks::new(Arc::new(bank("start")));
        let start = d.path().join("start");
        let start_list = kit(&start, "bd");
        let mut feed = banks.connect(48_000, Some((start.clone(), start_list.clone())));
        let mut w = Vec::new();
        assert_eq!(feed.bind(&start, &start_list, &mut w).unwrap(), 0);
        let mut gens = Vec::new();
        let mut dirs = Vec::new();
        for i in 0..BANK_SLOTS + 1 {
            let k = d.path().join(format!("k{i}"));
            let list = kit(&k, &format!("f{i}"));
            gens.push(feed.bind(&k, &list, &mut w).unwrap());
            dirs.push((k, list));
        }
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(gens, (1..=BANK_SLOTS as u32 + 1).collect::<Vec<_>>());
        // Same folder, same listing: the same generation, nothing pushed.
        assert_eq!(feed.bind(&dirs[4].0, &dirs[4].1, &mut w).unwrap(), 5);
        assert!(banks.bank(5).is_none());
        banks.ensure(5);
        assert_eq!(banks.get(5, 1, 0).unwrap().name, "a");
        assert_eq!(banks.bank(5).unwrap().folders[0].0, "f4");
        assert!(
            banks.bank(1).is_none(),
            "the oldest pushed bank was replaced"
        );
        assert_eq!(banks.bank(0).unwrap().folders[0].0, "start");
        // The replaced bank came back to the feed; the feed no longer counts it as held, so
        // asking for its folder again loads it under a new generation.
        assert_eq!(feed.retired.slots(), 1);
        assert_eq!(feed.bind(&dirs[0].0, &dirs[0].1, &mut w).unwrap(), 6);
        assert_eq!(feed.retired.slots(), 0);
        // A folder whose listing changed (a file added) is a new bank.
        let list2 = kit(&dirs[4].0, "g");
        assert_ne!(list2, dirs[4].1);
        assert_eq!(feed.bind(&dirs[4].0, &list2, &mut w).unwrap(), 7);
    }

    #[test]
    fn a_missing_folder_is_an_error_and_without_a_synth_bind_says_none() {
        let swap = BankSwap::new();
        let mut w = Vec::new();
        assert_eq!(
            swap.bind(Path::new("/nonexistent"), &[], &mut w).unwrap(),
            None
        );
        let mut banks = Banks::new(Arc::new(Bank::default()));
        swap.set(banks.connect(48_000, None));
        assert!(swap
            .bind(Path::new("/nonexistent/kit"), &[], &mut w)
            .is_err());
        banks.poll();
        assert!(banks.bank(1).is_none());
    }
}
