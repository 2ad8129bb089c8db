//! Sample banks in the Dirt-Samples layout, end to end: a fixture folder generated here
//! (`kit/bd`, `kit/sd`, `kit/hh`, WAV written with hound, plus the committed FLAC and Ogg
//! Vorbis of `tests/fixtures/samples`), decoded, played bit-exact by `bd:1`, reversed by a
//! negative speed, choked by `cut`, cut into parts by `chop`/`slice`, named wrongly with a
//! `file:line:col` error, and rendered by the real `weft render`.

use std::path::{Path, PathBuf};

use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::patch::{LoadOptions, NoModels, Patch};
use weft::sound::synth::{decode, render, SynthConfig};

const SR: u32 = 48_000;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/samples")
        .join(name)
}

/// The signal `tests/fixtures/samples/make.py` wrote into tone.flac and tone.ogg.
fn tone() -> Vec<i16> {
    (0..2205i64)
        .map(|i| {
            if i < 1000 {
                ((i * 7919) % 20000 - 10000) as i16
            } else {
                (12000.0 * (2.0 * std::f64::consts::PI * 441.0 * i as f64 / 44100.0).sin()) as i16
            }
        })
        .collect()
}

/// Deterministic 16-bit noise, `n` frames, seeded.
fn noise(seed: u32, n: usize) -> Vec<i16> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as i16
        })
        .collect()
}

#[path = "support/wav.rs"]
mod wav;

fn write_wav(path: &Path, data: &[i16]) {
    wav::write_wav(path, SR, data);
}

/// `root/kit`: bd/ (two WAVs: a.wav 3000 frames, b.wav 4000 frames), sd/ (one WAV of 2000
/// frames), hh/ (the FLAC and the Ogg Vorbis).
fn kit(root: &Path) -> (PathBuf, Vec<i16>, Vec<i16>, Vec<i16>) {
    let k = root.join("kit");
    for d in ["bd", "sd", "hh"] {
        std::fs::create_dir_all(k.join(d)).unwrap();
    }
    let (a, b, s) = (noise(1, 3000), noise(2, 4000), noise(3, 2000));
    write_wav(&k.join("bd/a.wav"), &a);
    write_wav(&k.join("bd/b.wav"), &b);
    write_wav(&k.join("sd/snare.wav"), &s);
    std::fs::copy(fixture("tone.flac"), k.join("hh/1.flac")).unwrap();
    std::fs::copy(fixture("tone.ogg"), k.join("hh/2.ogg")).unwrap();
    (k, a, b, s)
}

fn cfg(dir: &Path) -> SynthConfig {
    SynthConfig {
        sample_rate: SR,
        polyphony: 8,
        samples_dir: Some(dir.to_path_buf()),
        soundfont: None,
        master_chain: false,
        bank_swap: None,
    }
}

/// A unity-gain sample note: folders are bd = 1, hh = 2, sd = 3 (sorted names).
fn smp(folder: u16, index: u16) -> Sound {
    Sound {
        synth: SynthKind::Sample,
        attack: 0.0,
        sustain: 1.0,
        gain: 1.0,
        pan: 0.0,
        folder,
        sample: index,
        ..Sound::default()
    }
}

fn on(frame: u64, key: u8, sound: Sound) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOn {
            track: 0,
            channel: 0,
            key,
            vel: 127,
            sound,
        },
    }
}

fn left(out: &[f32]) -> Vec<f32> {
    out.chunks_exact(2).map(|f| f[0]).collect()
}

fn f(x: i16) -> f32 {
    x as f32 / 32768.0
}

#[test]
fn flac_decodes_bit_exact_and_vorbis_closely() {
    let want: Vec<f32> = tone().into_iter().map(f).collect();
    let flac = decode(&fixture("tone.flac")).unwrap();
    assert_eq!((flac.sample_rate, flac.channels), (44_100, 1));
    assert_eq!(flac.data, want);
    let ogg = decode(&fixture("tone.ogg")).unwrap();
    assert_eq!((ogg.sample_rate, ogg.channels), (44_100, 1));
    assert!(
        (ogg.data.len() as i64 - 2205).abs() <= 64,
        "{}",
        ogg.data.len()
    );
    // The sine part (lossy, but close): RMS error well under its level (0.26 RMS).
    let err: f32 = (1200..2100)
        .map(|i| (ogg.data[i] - want[i]).powi(2))
        .sum::<f32>()
        / 900.0;
    assert!(err.sqrt() < 0.03, "vorbis RMS error {}", err.sqrt());
}

#[test]
fn bd_1_plays_the_second_file_bit_exact_and_reversed_at_speed_minus_1() {
    let d = tempfile::tempdir().unwrap();
    let (k, a, b, _) = kit(d.path());
    let at = 100;
    let (out, w) = render(&[on(at, 60, smp(1, 1))], 5000, cfg(&k)).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let l = left(&out);
    let want: Vec<f32> = b.iter().map(|&x| f(x)).collect();
    assert_eq!(&l[at as usize..at as usize + 4000], &want[..]);
    assert!(l[..at as usize].iter().all(|&x| x == 0.0));
    assert!(l[at as usize + 4000..].iter().all(|&x| x == 0.0));
    // The index wraps modulo the folder's count: bd:3 is bd:1, bd:2 is bd:0.
    let (out3, _) = render(&[on(at, 60, smp(1, 3))], 5000, cfg(&k)).unwrap();
    assert_eq!(out3, out);
    let (out2, _) = render(&[on(0, 60, smp(1, 2))], 3000, cfg(&k)).unwrap();
    let first: Vec<f32> = a.iter().map(|&x| f(x)).collect();
    assert_eq!(left(&out2), first);

    let rev = Sound {
        speed: -1.0,
        ..smp(1, 1)
    };
    let (out, _) = render(&[on(0, 60, rev)], 4000, cfg(&k)).unwrap();
    let mut reversed = want.clone();
    reversed.reverse();
    assert_eq!(left(&out), reversed);

    // speed 2 plays every other frame (an octave up), half as long.
    let fast = Sound {
        speed: 2.0,
        ..smp(1, 1)
    };
    let (out, _) = render(&[on(0, 60, fast)], 2100, cfg(&k)).unwrap();
    let l = left(&out);
    let every_other: Vec<f32> = want.iter().step_by(2).copied().collect();
    assert_eq!(&l[..2000], &every_other[..]);
    assert!(l[2000..].iter().all(|&x| x == 0.0));
    // speed 0 would hold one frame forever: it is silent instead.
    let still = Sound {
        speed: 0.0,
        ..smp(1, 1)
    };
    let (out, _) = render(&[on(0, 60, still)], 500, cfg(&k)).unwrap();
    assert!(out.iter().all(|&x| x == 0.0));
}

#[test]
fn begin_end_and_loop_play_the_chosen_part() {
    let d = tempfile::tempdir().unwrap();
    let (k, _, b, _) = kit(d.path());
    let want: Vec<f32> = b.iter().map(|&x| f(x)).collect();
    let part = Sound {
        begin: 0.25,
        end: 0.5,
        ..smp(1, 1)
    };
    let (out, _) = render(&[on(0, 60, part)], 1200, cfg(&k)).unwrap();
    let l = left(&out);
    assert_eq!(&l[..1000], &want[1000..2000]);
    assert!(l[1000..].iter().all(|&x| x == 0.0));
    // Looped: the part repeats while the note is held, then releases.
    let looped = Sound {
        looped: true,
        release: 0.001,
        ..part
    };
    let off = TimedEvent {
        tick: 0,
        frame: 3500,
        event: Event::NoteOff {
            track: 0,
            channel: 0,
            key: 60,
        },
    };
    let (out, _) = render(&[on(0, 60, looped), off], 5000, cfg(&k)).unwrap();
    let l = left(&out);
    for rep in 0..3 {
        assert_eq!(
            &l[rep * 1000..rep * 1000 + 1000],
            &want[1000..2000],
            "loop {rep}"
        );
    }
    assert!(l[3500 + 200..].iter().all(|&x| x == 0.0), "released");
}

#[test]
fn a_cut_group_chokes_the_sounding_sample_with_a_short_fade() {
    let d = tempfile::tempdir().unwrap();
    let (k, _, b, s) = kit(d.path());
    let snare: Vec<f32> = s.iter().map(|&x| f(x)).collect();
    let long = Sound {
        cut: 1,
        ..smp(1, 1)
    };
    let short = Sound {
        cut: 1,
        ..smp(3, 0)
    };
    let at = 1000usize;
    let (out, _) = render(&[on(0, 60, long), on(at as u64, 60, short)], 4000, cfg(&k)).unwrap();
    let l = left(&out);
    // Fade: 5 ms = 240 frames at 48 kHz; after it only the snare sounds.
    let fade = 240;
    assert_eq!(&l[at + fade + 2..at + 2000], &snare[fade + 2..2000]);
    assert!(
        l[at + 2000..].iter().all(|&x| x == 0.0),
        "the bd was choked"
    );
    // Inside the fade the bd's part shrinks step by step (no click): it is the mix minus
    // the snare, and never larger than the bd itself.
    for i in 0..fade {
        let bd_part = l[at + i] - snare[i];
        assert!(bd_part.abs() <= f(b[at + i]).abs() + 1e-6, "{i}");
    }
    // Without a cut group both play on.
    let (out, _) = render(
        &[on(0, 60, smp(1, 1)), on(at as u64, 60, smp(3, 0))],
        4000,
        cfg(&k),
    )
    .unwrap();
    let l = left(&out);
    assert_eq!(l[at + 2500], f(b[at + 2500]));
}

fn write_patch(dir: &Path, src: &str) -> PathBuf {
    let p = dir.join("p.rhai");
    std::fs::write(&p, src).unwrap();
    p
}

fn plan(path: &Path) -> weft::patch::BarPlan {
    let mut p = Patch::load_file(path, LoadOptions::default()).unwrap();
    p.plan_bar(0, &mut NoModels).unwrap()
}

#[test]
fn patterns_pick_folder_and_index_and_chop_and_slice_pick_parts() {
    let d = tempfile::tempdir().unwrap();
    kit(d.path());
    let p = write_patch(
        d.path(),
        r#"samples("./kit");
voice("d", #{ synth: "sample" }).pattern("bd:3 sd hh*2");
voice("c", #{ synth: "sample", sample: "bd:1", cut: 2 }).pattern("x ~").chop(4);
voice("s", #{ synth: "sample", sample: "sd" }).slice(4, "3 0 [1 2]");
voice("e", #{ synth: "sample", sample: "hh:3", "loop": true, speed: -0.5, begin: 0.1, end: 0.9 });
"#,
    );
    let plan = plan(&p);
    let of = |voice: usize| -> Vec<(u64, u16, u16, f32, f32)> {
        let mut v: Vec<_> = plan
            .notes
            .iter()
            .filter(|n| n.voice == voice)
            .map(|n| {
                let s = n.sample.unwrap();
                (n.start, s.folder, s.index, s.begin, s.end)
            })
            .collect();
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v
    };
    // A 4/4 bar is 3840 ticks. bd:3 wraps to bd:1 (two files).
    assert_eq!(
        of(0),
        [
            (0, 1, 1, 0.0, 1.0),
            (1280, 3, 0, 0.0, 1.0),
            (2560, 2, 0, 0.0, 1.0),
            (3200, 2, 0, 0.0, 1.0)
        ]
    );
    assert_eq!(
        of(1),
        [
            (0, 1, 1, 0.0, 0.25),
            (480, 1, 1, 0.25, 0.5),
            (960, 1, 1, 0.5, 0.75),
            (1440, 1, 1, 0.75, 1.0)
        ]
    );
    assert_eq!(
        of(2),
        [
            (0, 3, 0, 0.75, 1.0),
            (1280, 3, 0, 0.0, 0.25),
            (2560, 3, 0, 0.25, 0.5),
            (3200, 3, 0, 0.5, 0.75)
        ]
    );
    assert_eq!(plan.voices[1].sound.cut, 2);
    let e = &plan.voices[3].sound;
    assert_eq!((e.folder, e.sample), (2, 1)); // hh has two files: hh:3 is hh:1
    assert!(e.looped);
    assert_eq!((e.speed, e.begin, e.end), (-0.5, 0.1, 0.9));
}

#[test]
fn missing_sample_names_and_folders_are_errors_at_their_position() {
    let d = tempfile::tempdir().unwrap();
    kit(d.path());
    let check = |src: &str| {
        let p = write_patch(d.path(), src);
        weft::patch::check_file(&p, 2, &mut NoModels)
            .unwrap_err()
            .to_string()
    };
    let e =
        check("samples(\"./kit\");\nvoice(\"d\", #{ synth: \"sample\" }).pattern(\"bd sn\");\n");
    assert!(e.contains("p.rhai:2:"), "{e}");
    assert!(
        e.contains("unknown sample 'sn'") && e.contains("did you mean `sd`"),
        "{e}"
    );
    let e =
        check("samples(\"./kit\");\n\nvoice(\"d\", #{ synth: \"sample\", sample: \"hhh:2\" });\n");
    assert!(e.contains("p.rhai:3:"), "{e}");
    assert!(e.contains("did you mean `hh`"), "{e}");
    let e = check("samples(\"./kitt\");\n");
    assert!(e.contains("p.rhai:1:"), "{e}");
    assert!(e.contains("no such folder"), "{e}");
}

#[test]
fn weft_render_plays_a_patch_with_its_own_kit_to_wav_and_midi() {
    let d = tempfile::tempdir().unwrap();
    let (_, a, _, _) = kit(d.path());
    let p = write_patch(
        d.path(),
        "tempo(120);\nsamples(\"./kit\");\nvoice(\"drums\", #{ synth: \"sample\", gain: 1.0 }).pattern(\"bd ~ sd hh:1\");\n",
    );
    let (mid, wav) = (d.path().join("o.mid"), d.path().join("o.wav"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .current_dir(d.path())
        .arg("render")
        .arg(&p)
        .args(["--bars", "1", "-o"])
        .arg(&mid)
        .arg("--wav")
        .arg(&wav)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("no samples"), "{err}");
    let rb = weft::record::smf::read(&std::fs::read(&mid).unwrap(), "o.mid").unwrap();
    assert_eq!(rb.notes.len(), 3, "{:?}", rb.notes);
    let mut r = hound::WavReader::open(&wav).unwrap();
    assert_eq!(r.spec().sample_rate, 48_000);
    let s: Vec<i16> = r.samples::<i16>().map(|x| x.unwrap()).collect();
    let l: Vec<i16> = s.iter().step_by(2).copied().collect();
    // Beat 1 is bd:0 (a.wav) at velocity 100 (×0.62) through the master chain's DC blocker
    // and limiter: the same waveform (correlation near 1); beat 2 is silent (its bd has
    // ended); beat 3 is the snare.
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
    let got: Vec<f64> = l[..3000].iter().map(|&x| x as f64).collect();
    let want: Vec<f64> = a.iter().map(|&x| x as f64).collect();
    let corr = dot(&got, &want) / (dot(&got, &got) * dot(&want, &want)).sqrt();
    assert!(corr > 0.95, "{corr}");
    let beat = 24_000;
    assert!(l[beat + 100..beat + 20_000].iter().all(|&x| x.abs() < 50));
    assert!(l[2 * beat..2 * beat + 2000].iter().any(|&x| x.abs() > 1000));
}

/// `param("v.speed", 0)` on a sounding one-shot: it glides to rest and then ends (before, it
/// held one frame as DC in its voice slot until stolen: note-off does not end a one-shot).
#[test]
fn a_one_shot_brought_to_speed_zero_by_param_ends() {
    let d = tempfile::tempdir().unwrap();
    let (k, ..) = kit(d.path());
    std::fs::create_dir_all(k.join("zz")).unwrap();
    let ramp: Vec<i16> = (0..30_000).map(|i| 1000 + (i % 20_000) as i16).collect();
    write_wav(&k.join("zz/ramp.wav"), &ramp);
    let events = [
        on(0, 60, smp(4, 0)),
        TimedEvent {
            tick: 0,
            frame: 2_000,
            event: Event::Param {
                track: 0,
                param: weft::engine::event::Param::Speed,
                value: 0.0,
            },
        },
    ];
    let (out, _) = render(&events, 20_000, cfg(&k)).unwrap();
    let l = left(&out);
    assert!(l[1_000] != 0.0, "it played before the change");
    assert!(
        l[12_000..].iter().all(|&x| x == 0.0),
        "still sounding at rest: {:?}",
        &l[12_000..12_004]
    );
}

#[test]
fn param_speed_glides_a_sounding_sample_and_begin_end_apply_from_the_next_note() {
    let d = tempfile::tempdir().unwrap();
    let (k, ..) = kit(d.path());
    // A ramp: the playback position can be read back from each output frame.
    std::fs::create_dir_all(k.join("zz")).unwrap();
    let ramp: Vec<i16> = (0..30_000).map(|i| i as i16).collect();
    write_wav(&k.join("zz/ramp.wav"), &ramp);
    // Folder numbers follow the sorted names: bd = 1, hh = 2, sd = 3, zz = 4.
    let names = weft::sound::synth::scan(&k).unwrap();
    let ramp_folder = names.iter().position(|f| f.name == "zz").unwrap() as u16 + 1;
    assert_eq!(ramp_folder, 4);
    let change = 4_800u64;
    let events = [
        on(0, 60, smp(ramp_folder, 0)),
        TimedEvent {
            tick: 0,
            frame: change,
            event: Event::Param {
                track: 0,
                param: weft::engine::event::Param::Speed,
                value: 2.0,
            },
        },
    ];
    let (out, _) = render(&events, 14_000, cfg(&k)).unwrap();
    let l = left(&out);
    // Position advance per frame, in file frames.
    let step = |i: usize| ((l[i + 1] - l[i]) * 32768.0) as f64;
    for i in 10..change as usize - 1 {
        assert!((step(i) - 1.0).abs() < 1e-3, "{i}: {}", step(i));
    }
    // It glides: never a jump, never backwards, and at 2 once settled.
    let mut last = 1.0;
    for i in change as usize..13_000 {
        let s = step(i);
        assert!(s >= last - 1e-3, "{i}: {s} after {last}");
        assert!(s - last < 0.01, "{i}: jumped from {last} to {s}");
        last = s;
    }
    assert!((last - 2.0).abs() < 1e-3, "{last}");
    assert!(step(change as usize + 48) < 1.5, "a glide, not a step");

    // begin/end set by param() in on_bar: the bar's notes play that part; a signal is refused.
    let src = "samples(\"./kit\");\nvoice(\"d\", #{ synth: \"sample\", sample: \"bd\" }).pattern(\"x bd:1\");\nfn on_bar(b) { param(\"d.begin\", 0.5); param(\"d.end\", 0.75); param(\"d.speed\", -1.5); }\n";
    let p = write_patch(d.path(), src);
    let mut patch = Patch::load_file(&p, LoadOptions::default()).unwrap();
    let plan = patch.plan_bar(0, &mut NoModels).unwrap();
    let parts: Vec<_> = plan
        .notes
        .iter()
        .map(|n| {
            let s = n.sample.unwrap();
            (s.index, s.begin, s.end)
        })
        .collect();
    assert_eq!(parts, [(0, 0.5, 0.75), (1, 0.5, 0.75)]);
    assert_eq!(plan.voices[0].sound.speed, -1.5);
    let bad = write_patch(
        d.path(),
        "samples(\"./kit\");\nvoice(\"d\", #{ synth: \"sample\" }).pattern(\"bd\");\nparam(\"d.begin\", sine);\n",
    );
    let e = weft::patch::check_file(&bad, 1, &mut NoModels)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("p.rhai:3:") && e.contains("take a number"),
        "{e}"
    );
}

#[test]
fn a_60_second_file_plays_its_last_second_exactly_forwards_and_backwards() {
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("long");
    std::fs::create_dir_all(k.join("rec")).unwrap();
    let n = 60 * SR as usize;
    let data = noise(9, n);
    write_wav(&k.join("rec/take.wav"), &data);
    let t = std::time::Instant::now();
    let mut w = Vec::new();
    let bank = weft::sound::synth::Bank::load(&k, SR, &mut w).unwrap();
    eprintln!(
        "loading a 60 s 48 kHz mono WAV: {:.0} ms (this build)",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert!(w.is_empty(), "nothing cut: {w:?}");
    assert_eq!(bank.get(1, 0).unwrap().length(), n);
    drop(bank);
    let last: Vec<f32> = data[n - SR as usize..].iter().map(|&x| f(x)).collect();
    let at = 64u64;
    // Forwards from 59 s.
    let tail = Sound {
        begin: 59.0 / 60.0,
        ..smp(1, 0)
    };
    let (out, w) = render(&[on(at, 60, tail)], at + SR as u64 + 100, cfg(&k)).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let l = left(&out);
    assert_eq!(&l[at as usize..at as usize + SR as usize], &last[..]);
    assert!(l[at as usize + SR as usize..].iter().all(|&x| x == 0.0));
    // Backwards from the end: the last second reversed.
    let rev = Sound {
        speed: -1.0,
        ..tail
    };
    let (out, _) = render(&[on(0, 60, rev)], SR as u64, cfg(&k)).unwrap();
    let mut reversed = last.clone();
    reversed.reverse();
    assert_eq!(left(&out), reversed);
}
