//! Transport pane: play state, tempo, bar.beat with a flash on each beat, recording, and the
//! audio engine's health (load, underruns — JACK's xruns count here —, streamed sample frames
//! that came late when there are any, lookahead, device,
//! reload latency); a third line, when there are any, for the outputs besides the synth
//! (OSC, MIDI out, MIDI clock) with their state.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::put;
use crate::tui::app::App;
use crate::tui::model::OutputViewState;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let tr = &app.snapshot.transport;
    let y = area.y;
    let mut x = area.x;
    x = if tr.playing {
        put(buf, area, x, y, "▶ playing ", t.ok())
    } else {
        put(buf, area, x, y, "■ stopped ", t.dim())
    };
    x = put(buf, area, x, y, &format!(" {:.1}", tr.tempo_bpm), t.value());
    x = put(buf, area, x, y, " BPM ", t.label());
    x = put(
        buf,
        area,
        x,
        y,
        &format!(" {}/{} ", tr.time_sig.0, tr.time_sig.1),
        t.label(),
    );
    x = put(buf, area, x, y, " bar ", t.label());
    x = put(
        buf,
        area,
        x,
        y,
        &format!("{}.{} ", tr.bar, tr.beat),
        t.value(),
    );
    // One cell per beat of the bar; the current beat flashes at its start.
    let beats = tr.time_sig.0.clamp(1, 16) as u32;
    for b in 1..=beats {
        let (sym, style) = if b == tr.beat {
            if tr.playing && tr.beat_phase < 0.25 {
                ("█", t.flash())
            } else {
                ("●", t.accent())
            }
        } else {
            ("·", t.dim())
        };
        x = put(buf, area, x + 1, y, sym, style);
    }
    if let Some(rec) = &tr.recording {
        let secs = rec.elapsed_s.max(0.0) as u64;
        x = put(buf, area, x + 3, y, "● REC ", t.recording());
        put(
            buf,
            area,
            x,
            y,
            &format!("{} {:02}:{:02}", rec.file, secs / 60, secs % 60),
            t.recording(),
        );
    }

    if area.height < 2 {
        return;
    }
    let y = area.y + 1;
    let mut x = area.x;
    let load_style = if tr.audio_load_pct >= 100.0 {
        t.error()
    } else if tr.audio_load_pct >= 70.0 {
        t.warn()
    } else {
        t.value()
    };
    x = put(buf, area, x, y, "load ", t.label());
    x = put(
        buf,
        area,
        x,
        y,
        &format!("{:.0}%", tr.audio_load_pct),
        load_style,
    );
    x = put(buf, area, x, y, "  underruns ", t.label());
    x = put(
        buf,
        area,
        x,
        y,
        &tr.underruns.to_string(),
        if tr.underruns > 0 {
            t.error()
        } else {
            t.value()
        },
    );
    if tr.stream_late > 0 {
        // Streamed sample frames that came too late: the disk could not keep up.
        x = put(buf, area, x, y, "  stream late ", t.label());
        x = put(buf, area, x, y, &tr.stream_late.to_string(), t.error());
    }
    x = put(buf, area, x, y, "  lookahead ", t.label());
    x = put(
        buf,
        area,
        x,
        y,
        &format!("{:.0} ms", tr.lookahead_ms),
        t.value(),
    );
    let reload = app
        .snapshot
        .patches
        .iter()
        .filter_map(|p| p.last_reload_ms)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    if let Some(ms) = reload {
        x = put(buf, area, x, y, "  reload ", t.label());
        x = put(buf, area, x, y, &format!("≤{ms:.1} ms"), t.value());
    }
    x = put(buf, area, x, y, "  out ", t.label());
    match &tr.device {
        Some(dev) => {
            x = put(buf, area, x, y, dev, t.value());
            if let Some(sr) = tr.sample_rate {
                put(
                    buf,
                    area,
                    x,
                    y,
                    &format!(" {:.1} kHz", sr as f64 / 1000.0),
                    t.label(),
                );
            }
        }
        None => {
            let x = put(buf, area, x, y, "null sink", t.warn());
            if area.right().saturating_sub(x) >= 15 {
                put(buf, area, x, y, " (silent clock)", t.dim());
            }
        }
    }

    if area.height < 3 || tr.outputs.is_empty() {
        return;
    }
    let y = area.y + 2;
    let mut x = area.x;
    for (i, o) in tr.outputs.iter().enumerate() {
        if i > 0 {
            x = put(buf, area, x, y, "  ", t.dim());
        }
        x = put(buf, area, x, y, &format!("{} ", o.kind), t.label());
        x = put(buf, area, x, y, &o.target, t.value());
        x = match &o.state {
            OutputViewState::Active => put(buf, area, x, y, " ✓", t.ok()),
            OutputViewState::Waiting(_) => put(buf, area, x, y, " waiting", t.warn()),
            OutputViewState::Failed(_) => put(buf, area, x, y, " failed", t.error()),
        };
        x = put(buf, area, x, y, &format!(" {} sent", o.sent), t.dim());
        if o.dropped > 0 {
            x = put(
                buf,
                area,
                x,
                y,
                &format!(" {} dropped", o.dropped),
                t.warn(),
            );
        }
        if o.xruns > 0 {
            x = put(buf, area, x, y, &format!(" {} xruns", o.xruns), t.warn());
        }
    }
    // With one output there is room to say why it waits or failed.
    if let [o] = tr.outputs.as_slice() {
        if let OutputViewState::Waiting(why) | OutputViewState::Failed(why) = &o.state {
            put(buf, area, x, y, &format!(" — {why}"), t.dim());
        }
    }
}
