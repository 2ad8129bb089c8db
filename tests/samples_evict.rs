//! Which hot-swapped sample bank the synth lets go of: never one a sounding note plays.
//! Five different banks are bound in turn (as five saves with five `samples("…")` folders
//! would) while a long note of the first one sounds; the real engine renders in between,
//! and the first bank's note plays on to its end, bit-exact. A bank bound again keeps its
//! generation; when every slot sounds, the bind says so and nothing is replaced.

use std::fs;
use std::path::{Path, PathBuf};

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::sound::synth::{BankSwap, Engine, SynthConfig, SynthError, BANK_SLOTS};

#[path = "support/wav.rs"]
mod wav;

const SR: u32 = 48_000;
const BLOCK: usize = 512;

fn noise(seed: u32, n: usize) -> Vec<i16> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as i16 / 2
        })
        .collect()
}

/// `root/k{i}/bd/a.wav` of `frames` frames of noise seeded by `i`.
fn kit(root: &Path, i: u32, frames: usize) -> (PathBuf, Vec<f32>) {
    let k = root.join(format!("k{i}"));
    fs::create_dir_all(k.join("bd")).unwrap();
    let data = noise(i + 1, frames);
    wav::write_wav(&k.join("bd/a.wav"), SR, &data);
    (k, data.iter().map(|&x| x as f32 / 32768.0).collect())
}

fn note(frame: u64, bank: u32) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOn {
            track: 0,
            channel: 0,
            key: 60,
            vel: 127,
            sound: Sound {
                synth: SynthKind::Sample,
                attack: 0.0,
                sustain: 1.0,
                gain: 1.0,
                folder: 1,
                bank,
                ..Sound::default()
            },
        },
    }
}

struct Rig {
    engine: Engine,
    swap: BankSwap,
    at: u64,
    left: Vec<f32>,
}

impl Rig {
    fn new() -> Rig {
        let swap = BankSwap::new();
        let (engine, _) = Engine::new(SynthConfig {
            sample_rate: SR,
            polyphony: 8,
            samples_dir: None,
            soundfont: None,
            master_chain: false,
            bank_swap: Some(swap.clone()),
        })
        .unwrap();
        Rig {
            engine,
            swap,
            at: 0,
            left: Vec::new(),
        }
    }

    fn bind(&self, dir: &Path) -> Result<u32, SynthError> {
        let folders = weft::sound::synth::scan(dir).unwrap();
        let mut w = Vec::new();
        let g = self.swap.bind(dir, &folders, &mut w).map(|g| g.unwrap());
        assert!(w.is_empty(), "{w:?}");
        g
    }

    /// Renders one block, with `events` (at its first frame).
    fn block(&mut self, events: &[TimedEvent]) {
        let mut out = vec![0.0f32; 2 * BLOCK];
        let mut it = events.iter().copied();
        let start = self.at;
        self.engine.process(start, &mut out, &mut |_end| {
            it.next().map(|e| TimedEvent { frame: start, ..e })
        });
        self.left.extend(out.chunks_exact(2).map(|f| f[0]));
        self.at += BLOCK as u64;
    }
}

#[test]
fn five_banks_bound_in_turn_while_the_first_sounds_leave_the_first_sounding() {
    let d = tempfile::tempdir().unwrap();
    let mut rig = Rig::new();
    let (k0, long) = kit(d.path(), 0, 20 * BLOCK);
    let g0 = rig.bind(&k0).unwrap();
    rig.block(&[note(0, g0)]);
    let mut gens = vec![g0];
    for i in 1..=BANK_SLOTS as u32 {
        let (k, _) = kit(d.path(), i, BLOCK);
        gens.push(rig.bind(&k).unwrap());
        rig.block(&[]);
        rig.block(&[]);
    }
    assert_eq!(gens.len(), BANK_SLOTS + 1);
    while rig.left.len() < long.len() + BLOCK {
        rig.block(&[]);
    }
    assert_eq!(
        &rig.left[..long.len()],
        &long[..],
        "the first bank's note played whole"
    );
    assert!(rig.left[long.len()..].iter().all(|&x| x == 0.0));
    // Its bank is still there: a new note of it sounds.
    let from = rig.left.len();
    rig.block(&[note(0, g0)]);
    assert_eq!(&rig.left[from..], &long[..BLOCK]);
    // The bank that made room was the second one (the least recently bound silent one).
    let from = rig.left.len();
    rig.block(&[note(0, gens[1])]);
    assert_eq!(
        &rig.left[from..],
        &long[BLOCK..2 * BLOCK],
        "only bank 0's note sounds"
    );
}

#[test]
fn a_bank_reused_after_others_keeps_its_generation() {
    let d = tempfile::tempdir().unwrap();
    let rig = Rig::new();
    let kits: Vec<_> = (0..BANK_SLOTS as u32 + 2)
        .map(|i| kit(d.path(), i, 100).0)
        .collect();
    let first = rig.bind(&kits[0]).unwrap();
    for k in &kits[1..BANK_SLOTS] {
        rig.bind(k).unwrap();
    }
    assert_eq!(rig.bind(&kits[0]).unwrap(), first);
    rig.bind(&kits[BANK_SLOTS]).unwrap();
    rig.bind(&kits[BANK_SLOTS + 1]).unwrap();
    assert_eq!(rig.bind(&kits[0]).unwrap(), first);
}

#[test]
fn with_every_slot_sounding_a_new_bank_is_refused_and_the_old_ones_play_on() {
    let d = tempfile::tempdir().unwrap();
    let mut rig = Rig::new();
    let mut waves = Vec::new();
    let mut gens = Vec::new();
    for i in 0..BANK_SLOTS as u32 {
        let (k, w) = kit(d.path(), i, 40 * BLOCK);
        let g = rig.bind(&k).unwrap();
        rig.block(&[note(0, g)]);
        gens.push(g);
        waves.push(w);
    }
    let (extra, _) = kit(d.path(), 99, BLOCK);
    let e = rig.bind(&extra).unwrap_err();
    assert!(
        matches!(e, SynthError::BanksInUse(n) if n == BANK_SLOTS),
        "{e}"
    );
    // Nothing was replaced: once the notes end, a fresh note of each bank plays it.
    while rig.left.len() < 50 * BLOCK {
        rig.block(&[]);
    }
    for (g, w) in gens.iter().zip(&waves) {
        let from = rig.left.len();
        rig.block(&[note(0, *g)]);
        assert_eq!(&rig.left[from..], &w[..BLOCK]);
        // Let it end before the next one.
        while rig.left.len() < from + 41 * BLOCK {
            rig.block(&[]);
        }
    }
    // Now that they are silent, the new bank finds room.
    assert!(rig.bind(&extra).is_ok());
}
