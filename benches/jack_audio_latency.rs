//! Audio latency **through JACK**: weft's audio out (`weft:out_1`, the same output
//! `weft play --host jack` opens) into a capture client in this process, against the schedule.
//!
//! A note (a square wave, no attack) is scheduled every half second at engine frame F, `lead`
//! ahead, the way the scheduler hands events to the synth (an rtrb ring, frames on the audio
//! clock). The time weft means by frame F is the one MIDI out sends it at: [`FrameMap`]'s
//! instant for F (the lower envelope of `now − frames/rate` of the audio clock). The capture
//! client (connected to `weft:out_1`) stamps its first sample above 0.01 in the window from
//! 50 ms before to 300 ms after that instant by its frame: cycle start + offset on JACK's µs
//! clock (the convention of `midi_jack_jitter`, so the two figures compare: audio − MIDI).
//! Prints p50/p99/max of arrival − due in ms and frames, and the receiver's xruns.
//!
//! Needs a running JACK server (no sound card needed):
//! `JACK_NO_AUDIO_RESERVATION=1 jackd -n bench -d dummy -r 48000 -p 256 &` then
//! `JACK_DEFAULT_SERVER=bench cargo bench --profile dev --bench jack_audio_latency -- [NOTES]`
//! (default 120 notes, one a half second).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft::engine::event::{Event, Sound, SynthKind, TimedEvent};
use weft::engine::live::AudioClock;
use weft::outputs::midi::FrameMap;

/// Onset threshold (the square's first sample is its full level × gain).
const THRESHOLD: f32 = 0.01;

struct Rx {
    port: jack::Port<jack::AudioIn>,
    /// JACK µs time of the first loud sample after the armed time, pushed per note.
    tx: rtrb::Producer<u64>,
    /// Look from this JACK µs time on (0: not armed).
    armed: Arc<AtomicU64>,
}

impl jack::ProcessHandler for Rx {
    fn process(&mut self, _: &jack::Client, ps: &jack::ProcessScope) -> jack::Control {
        let from = self.armed.load(Ordering::Acquire);
        if from == 0 {
            return jack::Control::Continue;
        }
        let Ok(ct) = ps.cycle_times() else {
            return jack::Control::Continue;
        };
        let n = ps.n_frames().max(1) as u64;
        let span = match ct.next_usecs.saturating_sub(ct.current_usecs) {
            0 => ct.period_usecs as u64,
            s => s,
        };
        for (i, x) in self.port.as_slice(ps).iter().enumerate() {
            let t = ct.current_usecs + i as u64 * span / n;
            if t >= from && x.abs() > THRESHOLD {
                let _ = self.tx.push(t);
                self.armed.store(0, Ordering::Release);
                break;
            }
        }
        jack::Control::Continue
    }
}

struct Xruns(Arc<AtomicU64>);
impl jack::NotificationHandler for Xruns {
    fn xrun(&mut self, _: &jack::Client) -> jack::Control {
        self.0.fetch_add(1, Ordering::Relaxed);
        jack::Control::Continue
    }
}

#[path = "support/stats.rs"]
mod stats;
use stats::pct;

fn main() {
    let notes: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(120);
    let (client, _) = jack::Client::new("lat_rx", jack::ClientOptions::NO_START_SERVER)
        .expect("a running JACK server (see the doc comment)");
    let period = client.buffer_size();
    let rate = client.sample_rate() as u64;
    let port = client
        .register_port("in", jack::AudioIn::default())
        .unwrap();
    let own = port.name().unwrap();
    let (tx, mut rx) = rtrb::RingBuffer::new(notes + 16);
    let armed = Arc::new(AtomicU64::new(0));
    let xruns = Arc::new(AtomicU64::new(0));
    let rx_client = client
        .activate_async(
            Xruns(xruns.clone()),
            Rx {
                port,
                tx,
                armed: armed.clone(),
            },
        )
        .unwrap();

    // weft's JACK audio out, not connected to system:playback (only to this receiver).
    let (mut events, consumer) = rtrb::RingBuffer::<TimedEvent>::new(1024);
    let audio = weft::sound::output::start(
        weft::sound::output::AudioConfig {
            host: Some("jack".into()),
            connect: false,
            ..Default::default()
        },
        consumer,
        None,
        Default::default(),
    )
    .expect("weft's JACK audio out");
    for w in &audio.warnings {
        eprintln!("{w}");
    }
    let sr = audio.sample_rate() as f64;
    rx_client
        .as_client()
        .connect_ports_by_name("weft:out_1", &own)
        .expect("connect weft:out_1 to the receiver");
    let mut map = FrameMap::new(Box::new(AudioClock::new(
        audio.meters(),
        audio.sample_rate(),
    )));
    // Let the map settle on the block clock.
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(500) {
        map.observe();
        std::thread::sleep(Duration::from_millis(1));
    }
    let jack_us = |at: Instant| -> f64 {
        let (j, i) = (rx_client.as_client().time(), Instant::now());
        if at >= i {
            j as f64 + (at - i).as_secs_f64() * 1e6
        } else {
            j as f64 - (i - at).as_secs_f64() * 1e6
        }
    };
    let lead = (0.1 * sr) as u64;
    let sound = Sound {
        synth: SynthKind::Square,
        attack: 0.0,
        gain: 0.5,
        ..Sound::default()
    };
    let mut lat_ms: Vec<f64> = Vec::new();
    let mut missed = 0;
    for k in 0..notes {
        map.observe();
        let f = audio.now_frame() + lead;
        let key = 60 + (k % 12) as u8;
        let on = TimedEvent {
            tick: k as u64,
            frame: f,
            event: Event::NoteOn {
                track: 0,
                channel: 0,
                key,
                vel: 100,
                sound,
            },
        };
        let off = TimedEvent {
            tick: k as u64,
            frame: f + (0.1 * sr) as u64,
            event: Event::NoteOff {
                track: 0,
                channel: 0,
                key,
            },
        };
        let _ = events.push(on);
        let _ = events.push(off);
        // Observe the clock until the note is due, then read the map's instant for it.
        let until = Instant::now() + Duration::from_secs_f64(lead as f64 / sr);
        while Instant::now() < until {
            map.observe();
            std::thread::sleep(Duration::from_millis(1));
        }
        let due = jack_us(map.instant(f));
        armed.store((due - 50_000.0).max(1.0) as u64, Ordering::Release);
        let wait = Instant::now() + Duration::from_millis(400);
        let mut got = None;
        while Instant::now() < wait {
            map.observe();
            if let Ok(t) = rx.pop() {
                got = Some(t);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        armed.store(0, Ordering::Release);
        match got {
            Some(t) => lat_ms.push((t as f64 - due) / 1e3),
            None => missed += 1,
        }
        // The release dies away before the next note.
        std::thread::sleep(Duration::from_millis(100));
    }
    let stats = audio.stats();
    drop(audio);
    drop(rx_client);
    let n = lat_ms.len();
    if n == 0 {
        println!("jack_audio_latency: no note arrived ({missed} missed)");
        return;
    }
    let to_frames = |ms: f64| ms * rate as f64 / 1e3;
    let (p50, p99) = (pct(&mut lat_ms, 0.5), pct(&mut lat_ms, 0.99));
    let (min, max) = (lat_ms[0], lat_ms[n - 1]);
    println!(
        "jack_audio_latency: {n} notes ({missed} missed), JACK period {period} at {rate} Hz, weft underruns {}, receiver xruns {}: arrival - due p50 {p50:.3} ms ({:.0} frames), p99 {p99:.3} ms ({:.0} frames), min {min:.3} ms, max {max:.3} ms ({:.0} frames)",
        stats.underruns,
        xruns.load(Ordering::Relaxed),
        to_frames(p50),
        to_frames(p99),
        to_frames(max),
    );
}
