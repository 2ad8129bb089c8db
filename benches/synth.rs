//! Synth benchmarks (harness = false; prints figures):
//! 1. offline render speed of a 64-voice built-in-synth patch on one core (× real time);
//! 2. audio callback time p50/p99 as % of the buffer period at 256 frames / 48 kHz, with
//!    the same 64-voice load and events arriving every block — once dry and once with every
//!    effect on (each voice: band/high/low-pass, distort, crush, coarse, tremolo, delay and
//!    reverb sends; ping-pong delay and reverb buses running);
//! 3. the same MIDI file rendered with the same SoundFont by weft (rustysynth) and by
//!    `fluidsynth -ni -F` (benches/peers/synth/fluidsynth.sh, its reverb and chorus off as
//!    weft's GM voices have none), wall time and ratio, on two files: the bench's (many
//!    short retriggered notes) and 16 sustained 4-note chords on 16 channels (64 voices).
//!
//! Run: `cargo bench --bench synth` (`-- callback` runs only part 2, `-- callback-fx` only its
//! effects-on half, e.g. under `perf record`, `-- gm` only part 3).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use weft::engine::event::{Event, FilterMode, Sound, SynthKind, TimedEvent};
use weft::sound::output::Callback;
use weft::sound::synth::{render_to_wav, Engine, SynthConfig, WavFormat};

const SR: u32 = 48_000;

/// CPU time of this thread in seconds: on a shared, overloaded machine wall time mostly
/// measures the other processes, so every figure is given both ways.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// CPU time (user + system) of finished child processes, in seconds.
fn children_cpu() -> f64 {
    // SAFETY: getrusage only writes the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cfg() -> SynthConfig {
    SynthConfig {
        sample_rate: SR,
        polyphony: 64,
        samples_dir: None,
        soundfont: Some(root().join("samples/sf_GMbank.sf2")),
        master_chain: true,
        bank_swap: None,
    }
}

fn note_on(frame: u64, track: u16, key: u8, sound: Sound) -> TimedEvent {
    TimedEvent {
        tick: 0,
        frame,
        event: Event::NoteOn {
            track,
            channel: 0,
            key,
            vel: 90,
            sound,
        },
    }
}

/// 64 voices of mixed built-in synths (half filtered), all retriggered every 2 s; with
/// `effects`, every voice runs every insert and feeds both send buses.
fn voices64(seconds: u64, effects: bool) -> Vec<TimedEvent> {
    let kinds = [
        SynthKind::Saw,
        SynthKind::Square,
        SynthKind::Tri,
        SynthKind::Sine,
        SynthKind::Fm,
        SynthKind::Pluck,
        SynthKind::Noise,
        SynthKind::Saw,
    ];
    let mut ev = Vec::new();
    for round in 0..seconds.div_ceil(2) {
        for v in 0..64u16 {
            let frame = round * 2 * SR as u64 + v as u64 * 7;
            let mut sound = Sound {
                synth: kinds[v as usize % kinds.len()],
                cutoff: if v % 2 == 0 { 1_200.0 } else { 18_000.0 },
                resonance: 0.3,
                gain: 0.2,
                sustain: 1.0,
                release: 0.05,
                ..Sound::default()
            };
            if effects {
                sound.filter = [
                    FilterMode::LowPass,
                    FilterMode::HighPass,
                    FilterMode::BandPass,
                ][v as usize % 3];
                sound.cutoff = 1_200.0;
                sound.distort = 1.5;
                sound.crush = 10.0;
                sound.coarse = 2.0;
                sound.tremolo = 0.5;
                sound.tremolorate = 6.0;
                sound.delay = 0.3;
                sound.delaytime = 0.375;
                sound.delayfeedback = 0.5;
                sound.pingpong = true;
                sound.room = 0.4;
                sound.size = 0.6;
                sound.damp = 0.4;
            }
            let key = 36 + (v % 48) as u8;
            if round > 0 {
                ev.push(TimedEvent {
                    tick: 0,
                    frame: frame - 1,
                    event: Event::NoteOff {
                        track: v,
                        channel: 0,
                        key,
                    },
                });
            }
            ev.push(note_on(frame, v, key, sound));
        }
    }
    ev.sort_by_key(|e| e.frame);
    ev
}

fn offline_factor() {
    let seconds = 20u64;
    let events = voices64(seconds, false);
    let frames = seconds * SR as u64;
    let (mut engine, _) = Engine::new(SynthConfig {
        soundfont: None,
        ..cfg()
    })
    .unwrap();
    let mut buf = vec![0.0f32; 2 * 512];
    let mut next = 0;
    let t = Instant::now();
    let c0 = thread_cpu();
    let mut start = 0;
    let mut voices_max = 0;
    while start < frames {
        engine.process(start, &mut buf, &mut |end| {
            let e = events.get(next).filter(|e| e.frame < end)?;
            next += 1;
            Some(*e)
        });
        voices_max = voices_max.max(engine.active_voices());
        start += 512;
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = thread_cpu() - c0;
    println!(
        "offline render, 64 built-in voices (max {voices_max} sounding), {seconds} s at {SR} Hz, one thread: \
         {wall:.3} s wall = {:.1}x real time; {cpu:.3} s CPU = {:.1}x real time per core (goal >= 20x)",
        seconds as f64 / wall,
        seconds as f64 / cpu
    );
}

fn callback_percentiles(effects: bool) {
    let block = 256usize;
    let blocks = 4_000usize;
    let events = voices64((blocks * block) as u64 / SR as u64 + 2, effects);
    let (engine, _) = Engine::new(SynthConfig {
        soundfont: None,
        ..cfg()
    })
    .unwrap();
    let (mut prod, cons) = rtrb::RingBuffer::<TimedEvent>::new(8192);
    let (tap, mut tap_rx) = rtrb::RingBuffer::<f32>::new(1 << 16);
    let mut cb = Callback::new(engine, cons, Some(tap));
    let mut out = vec![0.0f32; 2 * block];
    let mut times = Vec::with_capacity(blocks);
    let mut cpu_times = Vec::with_capacity(blocks);
    let mut next = 0;
    let period = block as f64 / SR as f64;
    for b in 0..blocks {
        // Scheduler side: push everything due in the next 50 ms, plus a param per block.
        let horizon = ((b * block) as u64) + SR as u64 / 20;
        while next < events.len() && events[next].frame < horizon {
            let _ = prod.push(events[next]);
            next += 1;
        }
        let _ = prod.push(TimedEvent {
            tick: 0,
            frame: (b * block + 100) as u64,
            event: Event::Param {
                track: (b % 64) as u16,
                param: weft::engine::event::Param::Cutoff,
                value: 500.0 + (b % 40) as f32 * 50.0,
            },
        });
        let t = Instant::now();
        let c0 = thread_cpu();
        cb.render(&mut out, 2);
        cpu_times.push(thread_cpu() - c0);
        times.push(t.elapsed().as_secs_f64());
        while tap_rx.pop().is_ok() {}
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    cpu_times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |q: f64| times[((times.len() - 1) as f64 * q) as usize] / period * 100.0;
    let cpct = |q: f64| cpu_times[((cpu_times.len() - 1) as f64 * q) as usize] / period * 100.0;
    println!(
        "callback, 64 voices, effects {}, {block} frames at {SR} Hz ({:.2} ms period), {blocks} blocks: \
         p50 {:.1}%  p99 {:.1}%  max {:.1}% of the period (goal p99 <= 25%)",
        if effects { "all on" } else { "off" },
        period * 1e3,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "callback thread CPU time: p50 {:.1}%  p99 {:.1}%  max {:.1}% of the period",
        cpct(0.5),
        cpct(0.99),
        cpct(1.0)
    );
}

/// Which MIDI file [`make_midi`] writes.
#[derive(Clone, Copy, PartialEq)]
enum Material {
    /// 30 s, 120 bpm: 15 melodic channels × a 4-note chord per beat plus drums, ≈64
    /// notes sounding at once, every note retriggered each beat.
    Retriggered,
    /// 64 s: the same 16 channels × 4-note chords, each held 4 s (16 chords).
    Sustained,
}

/// Writes an SMF of `material`. Returns the path and the same notes as weft events.
fn make_midi(dir: &Path, material: Material) -> (PathBuf, Vec<TimedEvent>, u64) {
    use midly::num::{u15, u24, u28, u4, u7};
    use midly::{
        Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind,
    };
    let tpq = 480u32;
    // A "beat" is one chord per channel: a beat long, or 8 beats (4 s) when sustained.
    let (beats, beat_ticks) = match material {
        Material::Retriggered => (60u32, tpq),
        Material::Sustained => (16, 8 * tpq),
    };
    let frames_per_tick = SR as u64 * 500_000 / 1_000_000 / tpq as u64; // 120 bpm: 50
    let mut abs: Vec<(u32, TrackEventKind<'static>)> = Vec::new();
    abs.push((
        0,
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(500_000))),
    ));
    let mut weft_events = Vec::new();
    for ch in 0..16u8 {
        if ch != 9 {
            abs.push((
                0,
                TrackEventKind::Midi {
                    channel: u4::new(ch),
                    message: MidiMessage::ProgramChange {
                        program: u7::new(ch * 8),
                    },
                },
            ));
        }
    }
    for beat in 0..beats {
        for ch in 0..16u8 {
            let notes: [u8; 4] = if ch == 9 {
                [36, 38, 42, 46]
            } else {
                let root = 36 + ((ch as u32 * 5 + beat * 7) % 36) as u8;
                [root, root + 4, root + 7, root + 12]
            };
            for (k, &key) in notes.iter().enumerate() {
                let on = beat * beat_ticks + k as u32 * 3;
                let off = on + beat_ticks - 10;
                for (tick, vel, is_on) in [(on, 90u8, true), (off, 0, false)] {
                    let message = if is_on {
                        MidiMessage::NoteOn {
                            key: u7::new(key),
                            vel: u7::new(vel),
                        }
                    } else {
                        MidiMessage::NoteOff {
                            key: u7::new(key),
                            vel: u7::new(0),
                        }
                    };
                    abs.push((
                        tick,
                        TrackEventKind::Midi {
                            channel: u4::new(ch),
                            message,
                        },
                    ));
                    let frame = tick as u64 * frames_per_tick;
                    let event = if is_on {
                        Event::NoteOn {
                            track: ch as u16,
                            channel: ch,
                            key,
                            vel,
                            sound: Sound {
                                synth: SynthKind::Gm,
                                program: if ch == 9 { 0 } else { ch * 8 },
                                gain: 1.0,
                                ..Sound::default()
                            },
                        }
                    } else {
                        Event::NoteOff {
                            track: ch as u16,
                            channel: ch,
                            key,
                        }
                    };
                    weft_events.push(TimedEvent {
                        tick: tick as u64,
                        frame,
                        event,
                    });
                }
            }
        }
    }
    abs.sort_by_key(|(t, _)| *t);
    let mut track = Vec::new();
    let mut last = 0;
    for (t, kind) in abs {
        track.push(TrackEvent {
            delta: u28::new(t - last),
            kind,
        });
        last = t;
    }
    track.push(TrackEvent {
        delta: u28::new(tpq),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    let smf = Smf {
        header: Header::new(Format::SingleTrack, Timing::Metrical(u15::new(tpq as u16))),
        tracks: vec![track],
    };
    let path = dir.join(match material {
        Material::Retriggered => "bench.mid",
        Material::Sustained => "chords.mid",
    });
    smf.save(&path).unwrap();
    weft_events.sort_by_key(|e| e.frame);
    let frames = (beats as u64 * beat_ticks as u64 + 2 * tpq as u64) * frames_per_tick;
    (path, weft_events, frames)
}

/// Time to build an engine with the SoundFont: the first time in a process it parses the
/// file and measures every program's loudness (the GM calibration); later engines reuse
/// both. The renders below come after this, so add the first figure to weft's times for a
/// whole-process comparison (fluidsynth's times include loading the SoundFont).
fn engine_start() {
    let self_cpu = || {
        // SAFETY: getrusage only writes the struct we pass.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    let t = Instant::now();
    let c0 = self_cpu();
    drop(Engine::new(cfg()).unwrap());
    let first = t.elapsed().as_secs_f64();
    let first_cpu = self_cpu() - c0;
    let t = Instant::now();
    drop(Engine::new(cfg()).unwrap());
    let again = t.elapsed().as_secs_f64();
    println!(
        "Engine::new with sf_GMbank.sf2: first {first:.3} s wall, {first_cpu:.3} s CPU (parse + \
         GM loudness calibration, on all cores), again {again:.4} s (cached)"
    );
}

fn fluidsynth_comparison(material: Material) {
    let dir = root().join("target/bench-peers/synth");
    std::fs::create_dir_all(&dir).unwrap();
    let (mid, events, frames) = make_midi(&dir, material);
    let sf2 = root().join("samples/sf_GMbank.sf2");
    let weft_wav = dir.join(match material {
        Material::Retriggered => "weft-bench.wav",
        Material::Sustained => "weft-chords.wav",
    });
    let t = Instant::now();
    let c0 = thread_cpu();
    let report = render_to_wav(&events, frames, cfg(), &weft_wav, WavFormat::I16).unwrap();
    let weft_s = t.elapsed().as_secs_f64();
    let weft_cpu = thread_cpu() - c0;
    let audio_s = frames as f64 / SR as f64;
    println!(
        "GM render of {} ({} notes, {audio_s:.0} s, sf_GMbank.sf2, 64-voice polyphony): \
         weft {weft_s:.3} s wall, {weft_cpu:.3} s CPU ({:.1}x real time, peak {:.2})",
        mid.display(),
        events.len() / 2,
        audio_s / weft_s,
        report.peak
    );
    let script = root().join("benches/peers/synth/fluidsynth.sh");
    let fluid_wav = dir.join(match material {
        Material::Retriggered => "fluidsynth-bench.wav",
        Material::Sustained => "fluidsynth-chords.wav",
    });
    let t = Instant::now();
    let k0 = children_cpu();
    let status = Command::new("bash")
        .arg(&script)
        .arg(&sf2)
        .arg(&mid)
        .arg(&fluid_wav)
        .arg(SR.to_string())
        .status();
    let fluid_s = t.elapsed().as_secs_f64();
    let fluid_cpu = children_cpu() - k0;
    match status {
        Ok(s) if s.success() => println!(
            "fluidsynth -ni -F on the same MIDI and SoundFont: {fluid_s:.3} s wall, {fluid_cpu:.3} s CPU \
             ({:.1}x real time); fluidsynth / weft = {:.2} (wall), {:.2} (CPU)",
            audio_s / fluid_s,
            fluid_s / weft_s,
            fluid_cpu / weft_cpu
        ),
        Ok(s) => println!("fluidsynth failed ({s}); is it installed? (apt-get install fluidsynth)"),
        Err(e) => println!("could not run {}: {e}", script.display()),
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful either.
    if std::env::args().any(|a| a == "callback-fx") {
        callback_percentiles(true);
        return;
    }
    if std::env::args().any(|a| a == "callback") {
        callback_percentiles(false);
        callback_percentiles(true);
        return;
    }
    if std::env::args().any(|a| a == "gm") {
        engine_start();
        fluidsynth_comparison(Material::Retriggered);
        fluidsynth_comparison(Material::Sustained);
        return;
    }
    offline_factor();
    callback_percentiles(false);
    callback_percentiles(true);
    engine_start();
    fluidsynth_comparison(Material::Retriggered);
    fluidsynth_comparison(Material::Sustained);
}
