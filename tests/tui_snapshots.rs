//! Snapshot tests of the performance screen (ratatui TestBackend + insta): every pane in its
//! normal, empty and error state, and the whole screen at 80×24 and 160×48.

mod tui_fixtures;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use insta::assert_snapshot;
use tui_fixtures::{busy, empty, failing};
use weft::tui::{
    render_text, App, AppEvent, Level, OutputView, OutputViewState, Pane, Snapshot, Theme,
};

fn app(snapshot: Snapshot) -> App {
    let mut app = App::new(Theme::new(false));
    app.handle(AppEvent::Snapshot(Box::new(snapshot)));
    app
}

fn with_messages(mut app: App) -> App {
    for (level, text) in [
        (Level::Info, "watching scripts/ (3 patches)"),
        (
            Level::Info,
            "groove.rhai reloaded in 3.1 ms, swaps at bar 17",
        ),
        (
            Level::Warn,
            "ALSA lib confmisc.c:855:(parse_card) cannot find card '0'",
        ),
        (
            Level::Warn,
            "ALSA lib confmisc.c:855:(parse_card) cannot find card '0'",
        ),
        (
            Level::Warn,
            "ALSA lib confmisc.c:855:(parse_card) cannot find card '0'",
        ),
        (Level::Info, "no sound device: playing on the silent clock"),
        (Level::Error, "listen.rhai:7:21: Variable not found: cutof"),
    ] {
        app.handle(AppEvent::Message(level, text.into()));
    }
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.handle(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

/// Pane size used for the per-pane snapshots (transport is a wide strip).
fn size(pane: Pane) -> (u16, u16) {
    match pane {
        Pane::Transport => (110, 4),
        _ => (64, 14),
    }
}

fn pane_text(app: &App, pane: Pane) -> String {
    let (w, h) = size(pane);
    app.render_pane_to_string(pane, w, h)
}

#[test]
fn every_pane_normal() {
    let app = with_messages(app(busy()));
    for pane in Pane::ALL {
        assert_snapshot!(
            format!("pane_{}_normal", pane.name()),
            pane_text(&app, pane)
        );
    }
}

#[test]
fn every_pane_empty() {
    let app = app(empty());
    for pane in Pane::ALL {
        assert_snapshot!(format!("pane_{}_empty", pane.name()), pane_text(&app, pane));
    }
}

#[test]
fn every_pane_error() {
    let mut app = app(failing());
    for text in [
        "thread 'weft-analyzer' panicked at src/analysis.rs:88:17:",
        "index out of bounds: the len is 1024 but the index is 1024",
        "audio device lost: The requested audio device is not available",
    ] {
        app.handle(AppEvent::Message(Level::Error, text.into()));
    }
    for pane in Pane::ALL {
        assert_snapshot!(format!("pane_{}_error", pane.name()), pane_text(&app, pane));
    }
}

#[test]
fn panes_before_the_engine_speaks() {
    let app = App::new(Theme::new(false));
    let text = app.render_pane_to_string(Pane::Patches, 40, 5);
    assert!(
        text.contains("not available: waiting for the engine"),
        "{text}"
    );
}

#[test]
fn whole_screen_80x24() {
    assert_snapshot!(
        "screen_busy_80x24",
        with_messages(app(busy())).render_to_string(80, 24)
    );
    assert_snapshot!("screen_empty_80x24", app(empty()).render_to_string(80, 24));
    assert_snapshot!(
        "screen_failing_80x24",
        app(failing()).render_to_string(80, 24)
    );
    assert_snapshot!(
        "screen_no_engine_80x24",
        App::new(Theme::new(false)).render_to_string(80, 24)
    );
}

#[test]
fn whole_screen_160x48() {
    assert_snapshot!(
        "screen_busy_160x48",
        with_messages(app(busy())).render_to_string(160, 48)
    );
    assert_snapshot!(
        "screen_empty_160x48",
        app(empty()).render_to_string(160, 48)
    );
    assert_snapshot!(
        "screen_failing_160x48",
        app(failing()).render_to_string(160, 48)
    );
}

#[test]
fn overlays_and_zoom() {
    let mut a = app(busy());
    key(&mut a, KeyCode::Char('?'));
    assert_snapshot!("overlay_help_80x24", a.render_to_string(80, 24));

    let mut a = app(busy());
    key(&mut a, KeyCode::Char('q'));
    assert_snapshot!("overlay_confirm_quit_80x24", a.render_to_string(80, 24));

    let mut a = app(busy());
    key(&mut a, KeyCode::Char('7'));
    assert_snapshot!("zoom_forecast_80x24", a.render_to_string(80, 24));
}

#[test]
fn render_text_matches_the_app_render() {
    let snap = busy();
    assert_eq!(
        render_text(&snap, 100, 30),
        app(snap).render_to_string(100, 30)
    );
}

#[test]
fn broken_patch_shows_line_col_and_fixed_patch_shows_playing() {
    // What the real-terminal test checks, at the screen level.
    let mut snap = empty();
    snap.patches = failing().patches;
    let text = render_text(&snap, 80, 24);
    assert!(text.contains("3:14"), "{text}");
    snap.patches = busy().patches[..1].to_vec();
    let text = render_text(&snap, 80, 24);
    assert!(text.contains("groove.rhai playing"), "{text}");
}

#[test]
fn tiny_and_odd_sizes_do_not_panic() {
    for (w, h) in [
        (1, 1),
        (10, 5),
        (20, 8),
        (79, 23),
        (80, 24),
        (119, 35),
        (120, 36),
        (300, 100),
    ] {
        for snap in [busy(), empty(), failing()] {
            let mut a = with_messages(app(snap));
            a.render_to_string(w, h);
            for n in '1'..='7' {
                key(&mut a, KeyCode::Char(n));
                a.render_to_string(w, h);
            }
            key(&mut a, KeyCode::Char('?'));
            a.render_to_string(w, h);
        }
    }
}

/// The quit-while-recording dialog fits its content: a long recording name (the default one,
/// in a deep folder) is cut into lines and `y quit / n keep playing` always shows.
#[test]
fn confirm_quit_fits_a_long_file_name() {
    let mut snap = busy();
    if let Some(r) = snap.transport.recording.as_mut() {
        r.file = "/home/performer/jam/recordings/weft-2026-12-01-130541.mid".into();
    }
    for (w, h) in [(80, 24), (200, 60), (40, 6)] {
        let mut a = app(snap.clone());
        key(&mut a, KeyCode::Char('q'));
        let text = a.render_to_string(w, h);
        assert!(text.contains("y quit   n keep playing"), "{w}x{h}:\n{text}");
        assert!(text.contains("130541.mid."), "{w}x{h}:\n{text}");
        if h >= 24 {
            assert_snapshot!(format!("overlay_confirm_quit_long_name_{w}x{h}"), text);
        }
    }
}

/// More voices and patches than rows: the voices pane scrolls with the selection and both
/// panes say how many more there are.
#[test]
fn long_lists_scroll_and_say_how_many_more() {
    let mut snap = busy();
    let voices = snap.voices.clone();
    snap.voices = (0..9)
        .map(|i| {
            let mut v = voices[i % voices.len()].clone();
            v.name = format!("v{i}.{}", v.name);
            v
        })
        .collect();
    let patches = snap.patches.clone();
    snap.patches = (0..5)
        .map(|i| {
            let mut p = patches[i % patches.len()].clone();
            p.file = format!("p{i}-{}", p.file);
            p
        })
        .collect();
    let mut a = app(snap.clone());
    let text = a.render_to_string(80, 24);
    assert!(text.contains("more (↓"), "{text}");
    assert!(text.contains("v0."), "{text}");
    assert_snapshot!("screen_many_voices_80x24", text);
    // Selecting the last voice scrolls it into view.
    let mut a = app(snap.clone());
    for _ in 0..8 {
        key(&mut a, KeyCode::Down);
    }
    let text = a.render_to_string(80, 24);
    assert!(text.contains("v8."), "{text}");
    assert!(!text.contains("v0."), "{text}");
    assert!(text.contains("more (↑"), "{text}");
    assert_snapshot!("screen_many_voices_last_selected_80x24", text);
    assert_snapshot!(
        "screen_many_voices_200x60",
        app(snap).render_to_string(200, 60)
    );
}

/// The transport with outputs besides the synth: JACK audio, an OSC target that waits for
/// SuperDirt, a MIDI port and a clock, each with its state; the strip grows to three lines.
#[test]
fn transport_shows_the_outputs_in_use_and_their_state() {
    let mut snap = busy();
    snap.transport.device = Some("jack:weft".into());
    let out = |kind: &str, target: &str, state: OutputViewState, sent, dropped| OutputView {
        kind: kind.into(),
        target: target.into(),
        state,
        sent,
        dropped,
        xruns: 0,
    };
    snap.transport.outputs = vec![out(
        "osc",
        "127.0.0.1:57120",
        OutputViewState::Waiting(
            "nothing listens at 127.0.0.1:57120 (is SuperDirt running?)".into(),
        ),
        12,
        5,
    )];
    let one = app(snap.clone());
    assert_snapshot!(
        "pane_transport_one_output",
        one.render_pane_to_string(Pane::Transport, 110, 5)
    );
    snap.transport.outputs.push(OutputView {
        xruns: 2,
        ..out("midi out", "weft:midi_out", OutputViewState::Active, 340, 0)
    });
    snap.transport.outputs.push(out(
        "midi clock",
        "weft:midi_out",
        OutputViewState::Failed("port closed".into()),
        0,
        0,
    ));
    let mut three = app(snap);
    assert_snapshot!(
        "pane_transport_three_outputs",
        three.render_pane_to_string(Pane::Transport, 110, 5)
    );
    assert_snapshot!("screen_outputs_80x24", three.render_to_string(80, 24));
}

/// Streamed sample frames that came too late show as `stream late N` after the underruns,
/// and nothing shows while there are none.
#[test]
fn transport_shows_late_stream_frames_only_when_there_are_some() {
    let quiet = app(busy());
    assert!(!quiet
        .render_pane_to_string(Pane::Transport, 110, 4)
        .contains("stream late"));
    let mut snap = busy();
    snap.transport.stream_late = 1_536;
    let late = app(snap);
    let text = late.render_pane_to_string(Pane::Transport, 110, 4);
    assert!(text.contains("underruns 0  stream late 1536"), "{text}");
    assert_snapshot!("pane_transport_stream_late", text);
}
