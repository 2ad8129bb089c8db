//! Voices pane: per voice a header (name, mute/solo, LSTM top-k next notes) and a piano roll
//! that scrolls left as time passes — one column per sixteenth note, "now" a beat from the
//! right edge, so the scheduled lookahead shows to the right of the now line. When the voices
//! do not fit, the pane scrolls with the selection and shows "+N more".

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{more_hint, note, put, window};
use crate::tui::app::App;
use crate::tui::model::{Availability, VoiceView};
use crate::tui::theme::Theme;

/// Ticks per roll column: a sixteenth note at 960 ticks per quarter.
const TICKS_PER_COL: i64 = 240;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let voices = &app.snapshot.voices;
    if voices.is_empty() {
        note(t, "no voices: no patch is playing", area, buf);
        return;
    }
    let h = area.height as usize;
    // Rows per voice: at least one. When they do not all fit, a window follows the
    // selection and the last row says how many more there are.
    let per = (h / voices.len()).max(1);
    let w = window(voices.len(), h / per, app.selected_voice);
    for (i, v) in voices.iter().enumerate().skip(w.first).take(w.shown) {
        let y = area.y + ((i - w.first) * per) as u16;
        let rect = Rect {
            y,
            height: per as u16,
            ..area
        };
        voice(t, v, i == app.selected_voice, rect, buf);
    }
    more_hint(t, w, area, area.y + (w.shown * per) as u16, buf);
}

fn voice(t: &Theme, v: &VoiceView, selected: bool, area: Rect, buf: &mut Buffer) {
    let name_style = if selected { t.selected() } else { t.value() };
    let name_w = 14.min(area.width as usize / 3);
    let name: String = v.name.chars().take(name_w).collect();
    let flags = format!(
        "{}{}",
        if v.muted { "M" } else { " " },
        if v.soloed { "S" } else { " " }
    );
    let header_x = {
        let x = put(
            buf,
            area,
            area.x,
            area.y,
            &format!("{name:<name_w$}"),
            name_style,
        );
        put(
            buf,
            area,
            x + 1,
            area.y,
            &flags,
            if v.muted { t.warn() } else { t.accent() },
        )
    };
    if area.height == 1 {
        // One row: name, flags and the roll on the same line.
        let roll = Rect {
            x: header_x + 1,
            width: area.right().saturating_sub(header_x + 1),
            ..area
        };
        piano_roll(t, v, roll, buf);
        return;
    }
    // Header line: LSTM top-k after the name.
    let mut x = header_x + 1;
    match &v.lstm_top {
        None => {}
        Some(Availability::Ready(top)) => {
            x = put(buf, area, x, area.y, "next ", t.label());
            for (note, p) in top {
                x = put(buf, area, x, area.y, note, t.note());
                x = put(
                    buf,
                    area,
                    x,
                    area.y,
                    &format!(" {:.0}% ", p * 100.0),
                    t.dim(),
                );
            }
        }
        Some(Availability::Working(what)) => {
            put(
                buf,
                area,
                x,
                area.y,
                &format!("lstm working: {what}"),
                t.pending(),
            );
        }
        Some(Availability::Unavailable(why)) => {
            x = put(buf, area, x, area.y, "lstm not available: ", t.warn());
            put(buf, area, x, area.y, why, t.dim());
        }
    }
    let roll = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    piano_roll(t, v, roll, buf);
}

/// Draws the notes of `v` into `area`: time left to right, pitch bottom to top (the voice's
/// own key range spread over the rows).
fn piano_roll(t: &Theme, v: &VoiceView, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let cols = area.width as i64;
    // The roll shows notes already sent to the synth, at most the scheduler's lookahead
    // (tens of ms) ahead of now: a beat of room right of the now line is plenty.
    let now_col = cols - 1 - (cols / 4).min(4);
    // Now line.
    for y in area.top()..area.bottom() {
        buf[(area.x + now_col as u16, y)]
            .set_symbol("│")
            .set_style(t.dim());
    }
    let (lo, hi) = v
        .notes
        .iter()
        .fold((u8::MAX, 0u8), |(lo, hi), n| (lo.min(n.key), hi.max(n.key)));
    if lo > hi {
        return;
    }
    let rows = area.height as i64;
    let span = (hi - lo) as i64 + 1;
    let style = if v.muted { t.dim() } else { t.note() };
    for n in &v.notes {
        let c0 = now_col + n.start_tick.div_euclid(TICKS_PER_COL);
        let c1 = now_col + (n.start_tick + n.dur_ticks.max(1) as i64 - 1).div_euclid(TICKS_PER_COL);
        if c1 < 0 || c0 >= cols {
            continue;
        }
        let row = if span <= rows {
            // Fewer keys than rows: one row per key, centred.
            let pad = (rows - span) / 2;
            rows - 1 - pad - (n.key - lo) as i64
        } else {
            rows - 1 - ((n.key - lo) as i64 * rows / span)
        };
        let y = area.y + row.clamp(0, rows - 1) as u16;
        for c in c0.max(0)..=c1.min(cols - 1) {
            let sym = match (c == c0, v.muted) {
                (true, false) => "█",
                (false, false) => "▬",
                (true, true) => "▒",
                (false, true) => "-",
            };
            buf[(area.x + c as u16, y)].set_symbol(sym).set_style(style);
        }
    }
}
