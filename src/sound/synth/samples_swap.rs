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
//! The audio side ([`Banks`]) holds the bank the synth started with (generation 0) and up to
//! [`BANK_SLOTS`] banks pushed. The feed picks the slot a new bank goes to: an empty one, else
//! the one bound least recently (by [`BankFeed::bind`]) that no sounding voice plays and that
//! is not the bank of the newest bind. The audio thread counts the sounding voices of each
//! slot at the start of every block (a fixed array, no allocation) and publishes the counts
//! in atomics the feed reads. When every candidate slot is in use, `bind` fails with
//! [`SynthError::BanksInUse`]: the live compile worker rejects the save at its `samples(…)`
//! call and the playing version keeps its banks. Should a voice start on the chosen slot
//! between the feed's reading and the audio thread's taking the bank (within one block), the
//! audio thread refuses the bank rather than cut that voice off: it goes back unused, the feed
//! forgets it on its next bind, and that version's notes of the bank are silent.
//!
//! A replaced (or refused) bank goes back over a second ring and is dropped on the compile
//! worker: the audio thread never frees one (if that ring were ever full it leaks the bank
//! rather than free it). Popping, looking up, counting and retiring are allocation- and
//! lock-free; the mutex around the feed is only taken by the compile worker.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::sampler::Sample;
use super::samples::{Bank, FolderInfo};
use super::stream::StreamOptions;
use super::SynthError;

/// Banks besides the startup one the synth holds at once (each `samples("…")` change makes
/// one; a bank with sounding notes is never replaced).
pub const BANK_SLOTS: usize = 4;
/// Banks that may wait in the ring for the audio thread.
const PENDING: usize = 16;

/// A bank on its way to the audio thread: (generation, slot, bank).
type Incoming = (u32, usize, Arc<Bank>);

/// Sounding voices per slot, as last counted by the audio thread.
#[derive(Default)]
struct Shared {
    users: [AtomicU32; BANK_SLOTS],
}

/// The synth's banks (audio side).
pub struct Banks {
    startup: Arc<Bank>,
    slots: [Option<(u32, Arc<Bank>)>; BANK_SLOTS],
    /// Sounding voices of each slot (set by [`Banks::count_users`]).
    users: [u32; BANK_SLOTS],
    shared: Arc<Shared>,
    incoming: Option<rtrb::Consumer<Incoming>>,
    retired: Option<rtrb::Producer<(u32, Arc<Bank>)>>,
}

impl Banks {
    pub fn new(startup: Arc<Bank>) -> Banks {
        Banks {
            startup,
            slots: Default::default(),
            users: [0; BANK_SLOTS],
            shared: Arc::default(),
            incoming: None,
            retired: None,
        }
    }

    /// The bank the synth started with (generation 0).
    pub fn startup(&self) -> &Arc<Bank> {
        &self.startup
    }

    /// The slot holding generation `gen` (never the startup bank's 0).
    #[inline]
    pub fn slot_of(&self, gen: u32) -> Option<usize> {
        if gen == 0 {
            return None;
        }
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|(g, _)| *g == gen))
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

    /// Records how many sounding voices play each slot's bank (`gens` yields the bank
    /// generation of every sounding sample voice) and publishes the counts to the feed.
    /// No allocation, no lock.
    pub fn count_users(&mut self, gens: impl Iterator<Item = u32>) {
        let mut users = [0u32; BANK_SLOTS];
        for g in gens {
            if let Some(s) = self.slot_of(g) {
                users[s] += 1;
            }
        }
        self.users = users;
        for (a, n) in self.shared.users.iter().zip(users) {
            a.store(n, Ordering::Relaxed);
        }
    }

    /// Takes the banks the feed has pushed since the last call, each into the slot the feed
    /// chose, unless a voice plays that slot's bank (then the new bank is refused and sent
    /// back). Call [`Banks::count_users`] first. No allocation, no lock.
    pub fn poll(&mut self) {
        let Some(rx) = &mut self.incoming else {
            return;
        };
        while let Ok((gen, slot, bank)) = rx.pop() {
            let back = if self.users[slot] > 0 {
                Some((gen, bank))
            } else {
                self.slots[slot].replace((gen, bank))
            };
            if let Some(old) = back {
                let lost = match &mut self.retired {
                    Some(tx) => tx.push(old).err().map(|rtrb::PushError::Full(b)| b),
                    None => Some(old),
                };
                // Never free a bank here: with nowhere to send it, it is leaked.
                if let Some(b) = lost {
                    std::mem::forget(b);
                }
            }
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
        self.users = [0; BANK_SLOTS];
        self.shared = Arc::default();
        BankFeed {
            rate,
            stream: StreamOptions::default(),
            incoming: tx,
            retired: back_rx,
            shared: self.shared.clone(),
            startup: startup.map(|(d, f)| (canonical(&d), f)),
            held: Default::default(),
            replaced: Default::default(),
            tick: 0,
            newest: None,
            next_gen: 1,
        }
    }
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// What the feed knows of one slot: the folder, its listing, its generation and when it was
/// last bound.
struct Held {
    dir: PathBuf,
    folders: Vec<FolderInfo>,
    gen: u32,
    bound: u64,
}

/// The compile worker's end: loads banks and pushes them to the synth.
pub struct BankFeed {
    rate: u32,
    stream: StreamOptions,
    incoming: rtrb::Producer<Incoming>,
    retired: rtrb::Consumer<(u32, Arc<Bank>)>,
    shared: Arc<Shared>,
    startup: Option<(PathBuf, Vec<FolderInfo>)>,
    /// The synth's slots as the feed filled them.
    held: [Option<Held>; BANK_SLOTS],
    /// What each slot held before the feed's last push to it, until the audio thread
    /// retires it (or refuses the push, which brings it back).
    replaced: [Option<Held>; BANK_SLOTS],
    /// Bind counter (for least recently bound).
    tick: u64,
    /// The generation the newest bind answered.
    newest: Option<u32>,
    next_gen: u32,
}

impl BankFeed {
    /// Banks this feed loads stream long files as `stream` says.
    pub fn streaming(mut self, stream: StreamOptions) -> BankFeed {
        self.stream = stream;
        self
    }

    /// The generation for the bank in `dir` listed as `folders`: the startup bank's (0) or a
    /// held one's, else the folder is decoded now and pushed to the synth under a new one,
    /// into the slot described in the module docs. Decoding problems of single files are
    /// `warnings` (their index plays silence). [`SynthError::BanksInUse`] when every slot's
    /// bank is sounding or was bound last.
    pub fn bind(
        &mut self,
        dir: &Path,
        folders: &[FolderInfo],
        warnings: &mut Vec<String>,
    ) -> Result<u32, SynthError> {
        // Banks the synth let go of are freed here, off the audio thread; one it refused is
        // forgotten (asking for its folder again loads it anew).
        while let Ok((gen, _bank)) = self.retired.pop() {
            for (h, r) in self.held.iter_mut().zip(&mut self.replaced) {
                if h.as_ref().is_some_and(|h| h.gen == gen) {
                    // Refused: the slot still holds what it held.
                    *h = r.take();
                } else if r.as_ref().is_some_and(|r| r.gen == gen) {
                    *r = None;
                }
            }
        }
        self.tick += 1;
        let dir = canonical(dir);
        if let Some((d, f)) = &self.startup {
            if *d == dir && f == folders {
                self.newest = Some(0);
                return Ok(0);
            }
        }
        if let Some(h) = self
            .held
            .iter_mut()
            .flatten()
            .find(|h| h.dir == dir && h.folders == folders)
        {
            h.bound = self.tick;
            self.newest = Some(h.gen);
            return Ok(h.gen);
        }
        let slot = self.free_slot()?;
        let bank = Bank::load_with(&dir, self.rate, self.stream, warnings)?;
        let gen = self.next_gen;
        self.incoming
            .push((gen, slot, Arc::new(bank)))
            .map_err(|_| {
                SynthError::Config(format!(
                    "{}: the synth is not taking new sample banks (is the audio running?)",
                    dir.display()
                ))
            })?;
        self.next_gen += 1;
        self.replaced[slot] = self.held[slot].replace(Held {
            dir,
            folders: folders.to_vec(),
            gen,
            bound: self.tick,
        });
        self.newest = Some(gen);
        Ok(gen)
    }

    /// An empty slot, else the least recently bound one whose bank no voice plays and that
    /// the newest bind did not answer with.
    fn free_slot(&self) -> Result<usize, SynthError> {
        if let Some(i) = self.held.iter().position(|h| h.is_none()) {
            return Ok(i);
        }
        self.held
            .iter()
            .enumerate()
            .filter_map(|(i, h)| Some((i, h.as_ref()?)))
            .filter(|(i, h)| {
                Some(h.gen) != self.newest && self.shared.users[*i].load(Ordering::Relaxed) == 0
            })
            .min_by_key(|(_, h)| h.bound)
            .map(|(i, _)| i)
            .ok_or(SynthError::BanksInUse(BANK_SLOTS))
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
                    stream: None,
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

    /// Takes what the feed pushed, as the engine does at a block start, with `users[gen]`
    /// voices sounding per generation.
    fn block(banks: &mut Banks, sounding: &[u32]) {
        banks.count_users(sounding.iter().copied());
        banks.poll();
    }

    fn kits(root: &Path, n: usize) -> Vec<(PathBuf, Vec<FolderInfo>)> {
        (0..n)
            .map(|i| {
                let k = root.join(format!("k{i}"));
                let list = kit(&k, &format!("f{i}"));
                (k, list)
            })
            .collect()
    }

    #[test]
    fn the_least_recently_bound_silent_bank_is_replaced_and_retired_off_the_audio_side() {
        let d = tempfile::tempdir().unwrap();
        let mut banks = Banks::new(Arc::new(bank("start")));
        let start = d.path().join("start");
        let start_list = kit(&start, "bd");
        let mut feed = banks.connect(48_000, Some((start.clone(), start_list.clone())));
        let mut w = Vec::new();
        assert_eq!(feed.bind(&start, &start_list, &mut w).unwrap(), 0);
        let dirs = kits(d.path(), BANK_SLOTS + 1);
        let mut gens = Vec::new();
        for (k, list) in &dirs {
            gens.push(feed.bind(k, list, &mut w).unwrap());
            block(&mut banks, &[]);
        }
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(gens, (1..=BANK_SLOTS as u32 + 1).collect::<Vec<_>>());
        // The replaced bank came back to the feed, which frees it on its next bind.
        assert_eq!(feed.retired.slots(), 1);
        // Same folder, same listing: the same generation, nothing pushed.
        assert_eq!(feed.bind(&dirs[4].0, &dirs[4].1, &mut w).unwrap(), 5);
        assert_eq!(feed.retired.slots(), 0);
        assert_eq!(banks.get(5, 1, 0).unwrap().name, "a");
        assert_eq!(banks.bank(5).unwrap().folders[0].0, "f4");
        assert!(
            banks.bank(1).is_none(),
            "the least recently bound bank went"
        );
        assert_eq!(banks.bank(0).unwrap().folders[0].0, "start");
        // Asking for the replaced bank's folder again loads it under a new generation.
        assert_eq!(feed.bind(&dirs[0].0, &dirs[0].1, &mut w).unwrap(), 6);
        // A folder whose listing changed (a file added) is a new bank.
        let list2 = kit(&dirs[4].0, "g");
        assert_ne!(list2, dirs[4].1);
        assert_eq!(feed.bind(&dirs[4].0, &list2, &mut w).unwrap(), 7);
    }

    #[test]
    fn a_sounding_bank_is_never_replaced() {
        let d = tempfile::tempdir().unwrap();
        let mut banks = Banks::new(Arc::new(Bank::default()));
        let mut feed = banks.connect(48_000, None);
        let mut w = Vec::new();
        let dirs = kits(d.path(), BANK_SLOTS + 1);
        let first = feed.bind(&dirs[0].0, &dirs[0].1, &mut w).unwrap();
        block(&mut banks, &[first]);
        // Bank 1 has a voice all along; four more banks are bound in turn.
        for (k, list) in &dirs[1..] {
            feed.bind(k, list, &mut w).unwrap();
            block(&mut banks, &[first]);
        }
        assert_eq!(banks.bank(first).unwrap().folders[0].0, "f0");
        assert!(
            banks.bank(2).is_none(),
            "the oldest silent bank went instead"
        );
        assert_eq!(banks.bank(5).unwrap().folders[0].0, "f4");
    }

    #[test]
    fn a_bank_bound_again_keeps_its_generation_and_its_place() {
        let d = tempfile::tempdir().unwrap();
        let mut banks = Banks::new(Arc::new(Bank::default()));
        let mut feed = banks.connect(48_000, None);
        let mut w = Vec::new();
        let dirs = kits(d.path(), BANK_SLOTS + 2);
        for (k, list) in &dirs[..BANK_SLOTS] {
            feed.bind(k, list, &mut w).unwrap();
            block(&mut banks, &[]);
        }
        // The first bank is used again, then two new ones come: the two least recently
        // bound (2 and 3) make room, the first keeps generation 1.
        assert_eq!(feed.bind(&dirs[0].0, &dirs[0].1, &mut w).unwrap(), 1);
        for (k, list) in &dirs[BANK_SLOTS..] {
            feed.bind(k, list, &mut w).unwrap();
            block(&mut banks, &[]);
        }
        assert_eq!(feed.bind(&dirs[0].0, &dirs[0].1, &mut w).unwrap(), 1);
        assert!(banks.bank(1).is_some());
        assert!(banks.bank(2).is_none() && banks.bank(3).is_none());
    }

    #[test]
    fn when_every_slot_is_sounding_bind_says_so_and_nothing_is_pushed() {
        let d = tempfile::tempdir().unwrap();
        let mut banks = Banks::new(Arc::new(Bank::default()));
        let mut feed = banks.connect(48_000, None);
        let mut w = Vec::new();
        let dirs = kits(d.path(), BANK_SLOTS + 1);
        let mut gens = Vec::new();
        for (k, list) in &dirs[..BANK_SLOTS] {
            gens.push(feed.bind(k, list, &mut w).unwrap());
            block(&mut banks, &gens[..gens.len() - 1]);
        }
        // Slots 1..3 sound; slot 4 is the newest bind: none may go.
        let e = feed.bind(&dirs[4].0, &dirs[4].1, &mut w).unwrap_err();
        assert!(matches!(e, SynthError::BanksInUse(BANK_SLOTS)), "{e}");
        assert!(e.to_string().contains("sounding"), "{e}");
        block(&mut banks, &gens[..3]);
        assert!(gens.iter().all(|g| banks.bank(*g).is_some()));
        // Once bank 1 falls silent it makes room.
        block(&mut banks, &gens[1..3]);
        assert_eq!(feed.bind(&dirs[4].0, &dirs[4].1, &mut w).unwrap(), 5);
        block(&mut banks, &gens[1..3]);
        assert!(banks.bank(1).is_none() && banks.bank(5).is_some());
    }

    #[test]
    fn a_bank_for_a_slot_that_started_sounding_meanwhile_is_refused_and_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let mut banks = Banks::new(Arc::new(Bank::default()));
        let mut feed = banks.connect(48_000, None);
        let mut w = Vec::new();
        let dirs = kits(d.path(), BANK_SLOTS + 1);
        for (k, list) in &dirs[..BANK_SLOTS] {
            feed.bind(k, list, &mut w).unwrap();
            block(&mut banks, &[]);
        }
        // The feed saw bank 1 silent and chose its slot; a voice of bank 1 started before
        // the audio thread took the new bank.
        assert_eq!(feed.bind(&dirs[4].0, &dirs[4].1, &mut w).unwrap(), 5);
        block(&mut banks, &[1]);
        assert!(banks.bank(1).is_some() && banks.bank(5).is_none());
        // The next bind learns it: bank 1 is still held, the refused one loads anew.
        assert_eq!(feed.bind(&dirs[0].0, &dirs[0].1, &mut w).unwrap(), 1);
        block(&mut banks, &[1]);
        assert_eq!(feed.bind(&dirs[4].0, &dirs[4].1, &mut w).unwrap(), 6);
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
