//! Snapshots of a session for the screen tests and the render bench: deterministic values
//! shaped like what the engine publishes (busy, empty, and failing sources).
#![allow(dead_code)]

use weft::tui::*;

/// A session with every pane busy: playing while recording, three patches (one failing),
/// five voices (one LSTM), a full spectrum, recommendations and a forecast.
pub fn busy() -> Snapshot {
    Snapshot {
        transport: TransportView {
            playing: true,
            tempo_bpm: 122.0,
            bar: 17,
            beat: 3,
            beat_phase: 0.1,
            time_sig: (4, 4),
            audio_load_pct: 23.4,
            underruns: 0,
            stream_late: 0,
            lookahead_ms: 50.0,
            device: Some("default".into()),
            sample_rate: Some(48_000),
            recording: Some(RecView {
                file: "take-03.mid".into(),
                elapsed_s: 83.2,
            }),
            outputs: Vec::new(),
        },
        patches: vec![
            PatchView {
                file: "groove.rhai".into(),
                state: PatchState::Playing,
                last_reload_ms: Some(3.1),
            },
            PatchView {
                file: "lead.rhai".into(),
                state: PatchState::Pending { at_bar: 18 },
                last_reload_ms: Some(2.4),
            },
            PatchView {
                file: "listen.rhai".into(),
                state: PatchState::Error {
                    line: 7,
                    col: 21,
                    message: "Variable not found: cutof".into(),
                    last_good_playing: true,
                },
                last_reload_ms: None,
            },
        ],
        voices: vec![
            drum_voice("groove.kick", 36, &[0, 4, 8, 12, 14]),
            drum_voice("groove.hat", 42, &[2, 6, 10, 14]),
            VoiceView {
                name: "groove.bass".into(),
                muted: true,
                soloed: false,
                notes: melody(&[45, 48, 52, 50, 45, 43, 45, 52], 2),
                lstm_top: None,
            },
            VoiceView {
                name: "lead.lead".into(),
                muted: false,
                soloed: true,
                notes: melody(&[69, 72, 76, 74, 72, 71, 69, 67, 69, 72], 1),
                lstm_top: Some(Availability::Ready(vec![
                    ("A4".into(), 0.31),
                    ("C5".into(), 0.22),
                    ("E5".into(), 0.12),
                    ("G4".into(), 0.08),
                ])),
            },
            VoiceView {
                name: "lead.pad".into(),
                muted: false,
                soloed: false,
                notes: melody(&[57, 60, 64], 8),
                lstm_top: None,
            },
        ],
        spectrum: Availability::Ready(spectrum()),
        recommend: Availability::Ready(recommend()),
        forecast: Availability::Ready(forecast()),
    }
}

fn drum_voice(name: &str, key: u8, steps: &[i64]) -> VoiceView {
    // Two bars of the pattern around "now": one past, one ahead (lookahead).
    let mut notes = Vec::new();
    for bar in [-2i64, -1, 0] {
        for s in steps {
            notes.push(NoteView {
                start_tick: bar * 3840 + s * 240 + 960,
                dur_ticks: 120,
                key,
                vel: 100,
            });
        }
    }
    VoiceView {
        name: name.into(),
        muted: false,
        soloed: false,
        notes,
        lstm_top: None,
    }
}

fn melody(keys: &[u8], beats_each: i64) -> Vec<NoteView> {
    let len = beats_each * 960;
    let start = -(keys.len() as i64 - 2) * len;
    keys.iter()
        .enumerate()
        .map(|(i, k)| NoteView {
            start_tick: start + i as i64 * len,
            dur_ticks: (len * 3 / 4) as u32,
            key: *k,
            vel: 90,
        })
        .collect()
}

pub fn spectrum() -> SpectrumView {
    let n = 96;
    let bands = (0..n)
        .map(|i| {
            let x = i as f32 / n as f32;
            // Falling slope with a few peaks, in dBFS.
            -12.0 - 40.0 * x - 8.0 * (x * 37.0).sin().abs()
                + 14.0 * (-(x - 0.2).powi(2) * 200.0).exp()
        })
        .collect();
    SpectrumView {
        bands,
        band_range_hz: (30.0, 16_000.0),
        rms: 0.213,
        centroid_hz: 1843.0,
        rolloff_hz: 5120.0,
        flatness: 0.118,
        flux: 3.42,
        onset: true,
        bpm: Some(121.8),
        chroma: [0.9, 0.1, 0.3, 0.05, 0.6, 0.2, 0.0, 0.4, 0.1, 1.0, 0.1, 0.2],
        sounds_like: vec![
            ("session 2026-11-18".into(), 0.93),
            ("samples/chorale-04".into(), 0.81),
            ("session 2026-10-02".into(), 0.74),
        ],
        dropped_frames: 0,
    }
}

pub fn recommend() -> RecommendView {
    let items = [
        ("Windowlicker", "Aphex Twin", 0.91, "Xtal, Avril 14th"),
        ("Roygbiv", "Boards of Canada", 0.87, "Dayvan Cowboy"),
        (
            "Teardrop",
            "Massive Attack",
            0.80,
            "Angel, Unfinished Sympathy",
        ),
        ("Kiara", "Bonobo", 0.77, "Cirrus"),
        ("Open Eye Signal", "Jon Hopkins", 0.74, "Emerald Rush"),
        ("Avril 14th", "Aphex Twin", 0.71, "Xtal"),
        ("Svefn-g-englar", "Sigur Rós", 0.66, "Hoppípolla"),
        (
            "Music for Airports 1/1",
            "Brian Eno",
            0.63,
            "An Ending (Ascent)",
        ),
    ];
    RecommendView {
        model: "item-kNN".into(),
        user: Some("alice".into()),
        items: items
            .iter()
            .map(|(t, a, s, b)| RecItem {
                title: t.to_string(),
                artist: a.to_string(),
                score: *s,
                because: b.split(", ").map(str::to_string).collect(),
            })
            .collect(),
    }
}

pub fn forecast() -> ForecastView {
    let weekly = [0.8, 0.9, 1.0, 1.0, 1.1, 1.5, 1.4];
    let history = (0..84)
        .map(|d| (40.0 + d as f64 * 0.2) * weekly[d % 7] + ((d * 7919) % 13) as f64 - 6.0)
        .collect();
    let forecast = (0..28)
        .map(|h| {
            let d = 84 + h;
            let mean = (40.0 + d as f64 * 0.2) * weekly[d % 7];
            let w = 6.0 + h as f64 * 0.5;
            ForecastPoint {
                mean,
                lo80: mean - w,
                hi80: mean + w,
                lo95: mean - 1.53 * w,
                hi95: mean + 1.53 * w,
            }
        })
        .collect();
    ForecastView {
        series: "plays/day".into(),
        model: "Holt-Winters (weekly)".into(),
        history,
        forecast,
        first_date: "2026-09-02".into(),
        last_date: "2026-12-22".into(),
        backtest: Some("MASE 0.82, 80% cov 79%".into()),
    }
}

/// The engine is up but nothing is loaded: stopped, no patches, no voices, silence.
pub fn empty() -> Snapshot {
    Snapshot {
        transport: TransportView::default(),
        patches: vec![],
        voices: vec![],
        spectrum: Availability::Ready(SpectrumView {
            bands: vec![-120.0; 96],
            band_range_hz: (30.0, 16_000.0),
            rms: 0.0,
            centroid_hz: 0.0,
            rolloff_hz: 0.0,
            flatness: 0.0,
            flux: 0.0,
            onset: false,
            bpm: None,
            chroma: [0.0; 12],
            sounds_like: vec![],
            dropped_frames: 0,
        }),
        recommend: Availability::Ready(RecommendView {
            model: "popularity".into(),
            user: None,
            items: vec![],
        }),
        forecast: Availability::Ready(ForecastView {
            series: "plays/day".into(),
            model: "seasonal naive".into(),
            history: vec![],
            forecast: vec![],
            first_date: String::new(),
            last_date: String::new(),
            backtest: None,
        }),
    }
}

/// Sources failing or missing: null sink with underruns and overload, every patch broken, an
/// LSTM voice without its model, no analyzer, no logs, the forecast still fitting.
pub fn failing() -> Snapshot {
    let mut s = busy();
    s.transport.device = None;
    s.transport.sample_rate = None;
    s.transport.underruns = 17;
    s.transport.audio_load_pct = 104.0;
    s.transport.recording = None;
    s.patches = vec![
        PatchView {
            file: "groove.rhai".into(),
            state: PatchState::Error {
                line: 3,
                col: 14,
                message:
                    "Syntax error: Expecting ')' to close the parameters list of function 'voice'"
                        .into(),
                last_good_playing: true,
            },
            last_reload_ms: Some(3.1),
        },
        PatchView {
            file: "new.rhai".into(),
            state: PatchState::Error {
                line: 1,
                col: 1,
                message: "Too many operations".into(),
                last_good_playing: false,
            },
            last_reload_ms: None,
        },
    ];
    s.voices[3].lstm_top = Some(Availability::Unavailable(
        "model 'chorales' not found in models/".into(),
    ));
    s.spectrum = Availability::Unavailable("no audio tap: analyzer not started".into());
    s.recommend =
        Availability::Unavailable("no listening logs given (weft play --logs PATH)".into());
    s.forecast = Availability::Working("fitting Holt-Winters on 412 days".into());
    s
}
