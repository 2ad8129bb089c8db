//! Spectrum pane: log-frequency magnitude bars (dBFS, −80 … 0) with eighth-block tops, the
//! features next to them (RMS, centroid, rolloff, flatness, flux, onset flash, tempo,
//! chroma) and the "sounds like" list. Narrow panes put the features above the bars.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{put, ready_or_explain};
use crate::tui::app::App;
use crate::tui::model::SpectrumView;
use crate::tui::theme::Theme;

const FLOOR_DB: f32 = -80.0;
const EIGHTHS: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
const SHADES: [&str; 5] = ["·", "░", "▒", "▓", "█"];
const PITCH: [&str; 12] = [
    "C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B",
];

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(s) = ready_or_explain(t, &app.snapshot.spectrum, area, buf) else {
        return;
    };
    const FEAT_W: u16 = 26;
    if area.width >= FEAT_W + 20 {
        let bars = Rect {
            width: area.width - FEAT_W - 1,
            ..area
        };
        let feats = Rect {
            x: bars.right() + 1,
            width: FEAT_W,
            ..area
        };
        features_column(t, s, feats, buf);
        bars_with_axis(t, s, bars, buf);
    } else {
        let top_h = 2.min(area.height.saturating_sub(2));
        let feats = Rect {
            height: top_h,
            ..area
        };
        features_compact(t, s, feats, buf);
        let bars = Rect {
            y: area.y + top_h,
            height: area.height - top_h,
            ..area
        };
        bars_with_axis(t, s, bars, buf);
    }
}

fn bars_with_axis(t: &Theme, s: &SpectrumView, area: Rect, buf: &mut Buffer) {
    if area.height == 0 || area.width == 0 {
        return;
    }
    let bars = if area.height >= 3 {
        let y = area.bottom() - 1;
        let (lo, hi) = s.band_range_hz;
        put(buf, area, area.x, y, &hz(lo), t.dim());
        let hi = hz(hi);
        let hx = area.right().saturating_sub(hi.len() as u16);
        put(buf, area, hx.max(area.x), y, &hi, t.dim());
        Rect {
            height: area.height - 1,
            ..area
        }
    } else {
        area
    };
    draw_bars(t, &s.bands, bars, buf);
}

fn hz(f: f32) -> String {
    if f >= 1000.0 {
        format!("{:.0}k", f / 1000.0)
    } else {
        format!("{f:.0}")
    }
}

/// Bands resampled to one column each (max of the bands that fall in a column).
fn draw_bars(t: &Theme, bands: &[f32], area: Rect, buf: &mut Buffer) {
    if bands.is_empty() {
        return;
    }
    let cols = area.width as usize;
    let eighths_total = area.height as usize * 8;
    for c in 0..cols {
        let b0 = c * bands.len() / cols;
        let b1 = ((c + 1) * bands.len() / cols).max(b0 + 1).min(bands.len());
        let db = bands[b0..b1].iter().copied().fold(f32::MIN, f32::max);
        let level = ((db - FLOOR_DB) / -FLOOR_DB).clamp(0.0, 1.0);
        let mut e = (level * eighths_total as f32).round() as usize;
        for row in (0..area.height).rev() {
            let sym = EIGHTHS[e.min(8)];
            e = e.saturating_sub(8);
            if sym != " " {
                buf[(area.x + c as u16, area.y + row)]
                    .set_symbol(sym)
                    .set_style(t.bar());
            }
        }
    }
}

fn chroma(t: &Theme, s: &SpectrumView, area: Rect, x: u16, y: u16, buf: &mut Buffer) -> u16 {
    let max = s.chroma.iter().copied().fold(0.0f32, f32::max);
    let mut x = x;
    for v in s.chroma.iter() {
        let l = if max > 0.0 { v / max } else { 0.0 };
        let sym = SHADES[((l * 4.0).round() as usize).min(4)];
        let style = if max > 0.0 && *v == max {
            t.accent()
        } else {
            t.dim()
        };
        x = put(buf, area, x, y, sym, style);
    }
    x
}

fn features_column(t: &Theme, s: &SpectrumView, area: Rect, buf: &mut Buffer) {
    let mut y = area.y;
    let row = |buf: &mut Buffer, y: u16, label: &str, value: String| {
        let x = put(buf, area, area.x, y, &format!("{label:<9}"), t.label());
        put(buf, area, x, y, &value, t.value());
    };
    row(buf, y, "rms", format!("{:.3}", s.rms));
    y += 1;
    row(buf, y, "centroid", format!("{:.0} Hz", s.centroid_hz));
    y += 1;
    row(buf, y, "rolloff", format!("{:.0} Hz", s.rolloff_hz));
    y += 1;
    row(buf, y, "flatness", format!("{:.3}", s.flatness));
    y += 1;
    row(buf, y, "flux", format!("{:.2}", s.flux));
    y += 1;
    row(
        buf,
        y,
        "tempo",
        s.bpm.map_or("–".to_string(), |b| format!("{b:.1} BPM")),
    );
    y += 1;
    let x = put(buf, area, area.x, y, "onset    ", t.label());
    if s.onset {
        put(buf, area, x, y, " ● ", t.flash());
    } else {
        put(buf, area, x, y, " · ", t.dim());
    }
    y += 1;
    if y < area.bottom() {
        let x = put(buf, area, area.x, y, "chroma   ", t.label());
        let x = chroma(t, s, area, x, y, buf);
        let top = strongest_pitch(s);
        put(buf, area, x + 1, y, top, t.accent());
        y += 1;
    }
    if s.dropped_frames > 0 && y < area.bottom() {
        put(
            buf,
            area,
            area.x,
            y,
            &format!("dropped  {} frames", s.dropped_frames),
            t.warn(),
        );
        y += 1;
    }
    if y < area.bottom() && !s.sounds_like.is_empty() {
        put(buf, area, area.x, y, "sounds like", t.label());
        y += 1;
        for (name, sim) in &s.sounds_like {
            if y >= area.bottom() {
                break;
            }
            let x = put(buf, area, area.x + 1, y, &format!("{sim:.2} "), t.accent());
            put(buf, area, x, y, name, t.text());
            y += 1;
        }
    }
}

fn strongest_pitch(s: &SpectrumView) -> &'static str {
    let (i, v) =
        s.chroma.iter().enumerate().fold(
            (0, 0.0f32),
            |acc, (i, v)| if *v > acc.1 { (i, *v) } else { acc },
        );
    if v > 0.0 {
        PITCH[i]
    } else {
        ""
    }
}

fn features_compact(t: &Theme, s: &SpectrumView, area: Rect, buf: &mut Buffer) {
    if area.height == 0 {
        return;
    }
    let y = area.y;
    let mut x = put(buf, area, area.x, y, "rms ", t.label());
    x = put(buf, area, x, y, &format!("{:.2}", s.rms), t.value());
    x = put(buf, area, x, y, " cent ", t.label());
    x = put(buf, area, x, y, &hz(s.centroid_hz), t.value());
    x = put(buf, area, x, y, " ", t.label());
    x = if s.onset {
        put(buf, area, x, y, "●", t.flash())
    } else {
        put(buf, area, x, y, "·", t.dim())
    };
    if let Some(b) = s.bpm {
        put(buf, area, x + 1, y, &format!("{b:.0} BPM"), t.value());
    }
    if area.height < 2 {
        return;
    }
    let y = y + 1;
    let x = chroma(t, s, area, area.x, y, buf);
    if let Some((name, sim)) = s.sounds_like.first() {
        let x = put(buf, area, x + 1, y, "≈", t.label());
        let x = put(buf, area, x, y, name, t.text());
        put(buf, area, x, y, &format!(" {sim:.2}"), t.accent());
    } else if s.dropped_frames > 0 {
        put(
            buf,
            area,
            x + 1,
            y,
            &format!("dropped {}", s.dropped_frames),
            t.warn(),
        );
    }
}
