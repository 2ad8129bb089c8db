//! MIDI out's unit tests: wire bytes, ordering at one frame, the sender's timing on a
//! manual clock, programs and panic.

use super::*;
use crate::engine::event::Sound;
use crate::engine::live::ManualClock;
use std::sync::{Arc, Mutex};

type Log = Arc<Mutex<Vec<(Instant, Vec<u8>)>>>;

/// A sound with no program (as a drum's): no program change before its notes.
fn plain() -> Sound {
    Sound {
        program: crate::patch::UNSET_PROGRAM,
        ..Sound::default()
    }
}
struct Rec(Log);
impl MidiSink for Rec {
    fn send(&mut self, b: &[u8], _due: Instant) -> Result<(), String> {
        self.0.lock().unwrap().push((Instant::now(), b.to_vec()));
        Ok(())
    }
}

fn out(opts: MidiOptions) -> (MidiOut, Log, ManualClock) {
    let log: Log = Arc::default();
    let clock = ManualClock::new(48_000);
    let o = MidiOut::start(Box::new(Rec(log.clone())), Box::new(clock.clone()), opts).unwrap();
    (o, log, clock)
}

fn ev(frame: Frame, event: Event) -> TimedEvent {
    TimedEvent {
        tick: frame,
        frame,
        event,
    }
}

#[test]
fn notes_programs_and_ccs_leave_on_their_channel_in_time_order() {
    let (mut o, log, _c) = out(MidiOptions {
        notes: true,
        clock: false,
    });
    let gm = Sound {
        synth: crate::engine::event::SynthKind::Gm,
        program: 33,
        ..plain()
    };
    let on = |ch, key, sound| Event::NoteOn {
        track: ch as u16,
        channel: ch,
        key,
        vel: 90,
        sound,
    };
    o.send(&[
        ev(
            0,
            Event::Param {
                track: 1,
                param: Param::Cutoff,
                value: 1000.0,
            },
        ),
        ev(480, on(1, 40, gm)),
        ev(960, on(9, 36, plain())),
        ev(
            1440,
            Event::Param {
                track: 1,
                param: Param::Cutoff,
                value: 20_000.0,
            },
        ),
        ev(
            1920,
            Event::NoteOff {
                track: 1,
                channel: 1,
                key: 40,
            },
        ),
        ev(2400, on(1, 41, gm)),
    ]);
    drop(o);
    let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
    let mut want = vec![
        vec![0xC1, 33],
        vec![0x91, 40, 90],
        vec![0x99, 36, 90],
        vec![0xB1, 74, 127],
        vec![0x81, 40, 0],
        vec![0x91, 41, 90],
    ];
    want.extend(panic_messages().iter().map(|m| m.bytes().to_vec()));
    assert_eq!(
        got, want,
        "a CC before the track's first note has no channel yet; the program is sent once"
    );
}

#[test]
fn a_synth_voice_sends_its_gm_match_once_per_channel() {
    let (mut o, log, _c) = out(MidiOptions {
        notes: true,
        clock: false,
    });
    let saw = Sound {
        synth: crate::engine::event::SynthKind::Saw,
        program: crate::patch::gm_program_for(crate::engine::event::SynthKind::Saw).unwrap(),
        ..Sound::default()
    };
    let on = |key| Event::NoteOn {
        track: 0,
        channel: 0,
        key,
        vel: 90,
        sound: saw,
    };
    o.send(&[ev(0, on(60)), ev(10, on(62))]);
    drop(o);
    let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
    assert_eq!(
        &got[..3],
        &[vec![0xC0, 81], vec![0x90, 60, 90], vec![0x90, 62, 90]]
    );
}

#[test]
fn clock_pulses_every_40_ticks_with_start_continue_and_stop() {
    let (mut o, log, _c) = out(MidiOptions {
        notes: false,
        clock: true,
    });
    let f = |t: Tick| t * 10;
    o.transport(true, 0, &f);
    o.transport(true, 200, &f);
    o.transport(true, 400, &f);
    o.transport(false, 400, &f);
    o.transport(true, 960, &f);
    o.transport(true, 1000, &f);
    drop(o);
    let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
    let mut want = vec![vec![0xFA]];
    want.extend((0..10).map(|_| vec![0xF8]));
    want.push(vec![0xFC]);
    want.push(vec![0xF2, 4, 0]);
    want.push(vec![0xFB]);
    want.push(vec![0xF8]);
    want.push(vec![0xFC]);
    want.extend(panic_messages().iter().map(|m| m.bytes().to_vec()));
    assert_eq!(got, want);
}

#[test]
fn synth_only_voices_send_nothing_and_offs_follow_only_sent_ons() {
    use crate::engine::event::Route;
    let (mut o, log, _c) = out(MidiOptions {
        notes: true,
        clock: false,
    });
    let on = |key, out| Event::NoteOn {
        track: 0,
        channel: 0,
        key,
        vel: 100,
        sound: Sound { out, ..plain() },
    };
    let off = |key| Event::NoteOff {
        track: 0,
        channel: 0,
        key,
    };
    o.send(&[
        ev(0, on(60, Route::Synth)),
        ev(1, on(61, Route::Midi)),
        ev(2, on(62, Route::Both)),
        ev(3, off(60)),
        ev(4, off(61)),
        ev(5, off(62)),
        ev(6, off(62)),
    ]);
    drop(o);
    let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
    assert_eq!(
        &got[..4],
        &[
            vec![0x90, 61, 100],
            vec![0x90, 62, 100],
            vec![0x80, 61, 0],
            vec![0x80, 62, 0]
        ]
    );
    assert_eq!(got.len(), 4 + 32, "then only the shutdown panic");
}

#[test]
fn param_ccs_scale_into_0_127() {
    assert_eq!(param_cc(Param::Cc(1), 64.4), Some((1, 64)));
    assert_eq!(param_cc(Param::Cutoff, 20.0), Some((74, 0)));
    assert_eq!(param_cc(Param::Lpf, 20_000.0), Some((74, 127)));
    assert_eq!(param_cc(Param::Pan, -1.0), Some((10, 0)));
    assert_eq!(param_cc(Param::Pan, 0.0), Some((10, 64)));
    assert_eq!(param_cc(Param::Gain, 0.5), Some((7, 64)));
    assert_eq!(param_cc(Param::Resonance, 1.0), Some((71, 127)));
    assert_eq!(param_cc(Param::Release, 2.0), Some((72, 127)));
    assert_eq!(param_cc(Param::Attack, 0.0), Some((73, 0)));
    assert_eq!(param_cc(Param::Room, 0.5), None);
}

#[test]
fn events_wait_for_their_frame_on_the_clock() {
    let (mut o, log, _c) = out(MidiOptions {
        notes: true,
        clock: false,
    });
    let t0 = Instant::now();
    // 4800 frames at 48 kHz = 100 ms after frame 0 (the clock reads 0 now).
    o.send(&[ev(
        4800,
        Event::NoteOn {
            track: 0,
            channel: 0,
            key: 60,
            vel: 100,
            sound: plain(),
        },
    )]);
    for _ in 0..400 {
        if !log.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let at = log.lock().unwrap().first().expect("the note was sent").0;
    assert!(
        at.duration_since(t0) >= Duration::from_millis(99),
        "sent after {:?}",
        at.duration_since(t0)
    );
    drop(o);
}

#[test]
fn a_note_on_queued_after_a_note_off_at_the_same_frame_never_overtakes_it() {
    // The cause of tests/midi_out.rs's "note-on over a sounding note" on a loaded
    // machine: the frame → instant map moves between scheduler passes (here the audio
    // clock jumps 50 ms ahead, as a stalled then catching-up device does), so a note-on
    // queued in a later pass mapped to an earlier instant than the note-off of the same
    // key at the same frame queued before it. The sender orders by frame, not instant.
    let (mut o, log, clock) = out(MidiOptions {
        notes: true,
        clock: false,
    });
    let on = |key| Event::NoteOn {
        track: 0,
        channel: 0,
        key,
        vel: 100,
        sound: plain(),
    };
    o.send(&[ev(0, on(60))]);
    o.send(&[ev(
        4800,
        Event::NoteOff {
            track: 0,
            channel: 0,
            key: 60,
        },
    )]);
    clock.advance(2400);
    o.send(&[ev(4800, on(60)), ev(4801, on(61))]);
    while log.lock().unwrap().len() < 4 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let got: Vec<Vec<u8>> = log.lock().unwrap()[..4]
        .iter()
        .map(|x| x.1.clone())
        .collect();
    assert_eq!(
        got,
        vec![
            vec![0x90, 60, 100],
            vec![0x80, 60, 0],
            vec![0x90, 60, 100],
            vec![0x90, 61, 100]
        ]
    );
    drop(o);
}

#[test]
fn at_one_frame_the_order_is_offs_clock_programs_ons_whatever_the_arrival() {
    let (mut o, log, _c) = out(MidiOptions {
        notes: true,
        clock: true,
    });
    let saw = Sound {
        program: 81,
        ..Sound::default()
    };
    let at = 4800;
    // The clock pulse at `at` is queued first (its pass came before the late note).
    o.transport(true, 0, &|t| t * 4800 / 40);
    o.transport(true, 41, &|t| t * 4800 / 40);
    o.send(&[ev(0, on_key(61, plain()))]);
    o.send(&[
        ev(at, on_key(60, saw)),
        ev(
            at,
            Event::NoteOff {
                track: 0,
                channel: 0,
                key: 61,
            },
        ),
    ]);
    drop(o);
    let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
    assert_eq!(
        &got[..6],
        &[
            vec![0xFA],
            vec![0xF8],
            vec![0x90, 61, 100],
            vec![0x80, 61, 0],
            vec![0xF8],
            vec![0xC0, 81],
        ]
    );
    assert_eq!(got[6], vec![0x90, 60, 100]);
}

fn on_key(key: u8, sound: Sound) -> Event {
    Event::NoteOn {
        track: 0,
        channel: 0,
        key,
        vel: 100,
        sound,
    }
}

#[test]
fn panic_is_sent_at_once_on_every_channel() {
    let (mut o, log, _c) = out(MidiOptions {
        notes: true,
        clock: false,
    });
    o.panic();
    while log.lock().unwrap().len() < 32 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
    for ch in 0..16u8 {
        assert!(got.contains(&vec![0xB0 | ch, 123, 0]));
        assert!(got.contains(&vec![0xB0 | ch, 120, 0]));
    }
    drop(o);
}

#[test]
fn a_control_stream_sends_each_cc_value_once_but_cc_calls_always() {
    let (mut o, log, _c) = out(MidiOptions {
        notes: true,
        clock: false,
    });
    let mut evs = vec![ev(
        0,
        Event::NoteOn {
            track: 0,
            channel: 2,
            key: 40,
            vel: 90,
            sound: plain(),
        },
    )];
    // 40 points of a slow sweep: 500.0, 500.5, … Hz map to few distinct 7-bit CC values.
    for i in 0..40u64 {
        evs.push(ev(
            10 + i,
            Event::Param {
                track: 0,
                param: Param::Cutoff,
                value: 500.0 + i as f32 * 0.5,
            },
        ));
    }
    // A patch's cc(1, 64) twice: both are sent.
    for f in [100, 101] {
        evs.push(ev(
            f,
            Event::Param {
                track: 0,
                param: Param::Cc(1),
                value: 64.0,
            },
        ));
    }
    o.send(&evs);
    drop(o);
    let got: Vec<Vec<u8>> = log.lock().unwrap().iter().map(|x| x.1.clone()).collect();
    let cutoff: Vec<u8> = got
        .iter()
        .filter(|m| m[0] == 0xB2 && m[1] == 74)
        .map(|m| m[2])
        .collect();
    let mut distinct = cutoff.clone();
    distinct.dedup();
    assert_eq!(cutoff, distinct, "no value sent twice in a row");
    assert!(!cutoff.is_empty() && cutoff.len() < 40, "{cutoff:?}");
    let cc1 = got.iter().filter(|m| m[..] == [0xB2, 1, 64]).count();
    assert_eq!(cc1, 2);
}
