//! Patches pane: one line per patch file — playing, pending at bar N, the rejected save's
//! error at `line:col` with its message (wrapped), or a runtime error of the playing version
//! (its last good bar plays), plus the last reload latency.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::{more_hint, note, window};
use crate::tui::app::App;
use crate::tui::model::PatchState;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let patches = &app.snapshot.patches;
    if patches.is_empty() {
        note(
            t,
            "no patches yet: save a .rhai file in the watched folder",
            area,
            buf,
        );
        return;
    }
    let name_w = patches
        .iter()
        .map(|p| p.file.chars().count())
        .max()
        .unwrap_or(0)
        .min(area.width as usize / 3);
    let mut lines = Vec::with_capacity(patches.len());
    for p in patches {
        let name: String = p.file.chars().take(name_w).collect();
        let mut spans = Vec::with_capacity(6);
        match &p.state {
            PatchState::Playing => {
                spans.push(Span::styled("▶ ", t.ok()));
                spans.push(Span::styled(format!("{name:<name_w$} "), t.value()));
                spans.push(Span::styled("playing", t.ok()));
            }
            PatchState::Pending { at_bar } => {
                spans.push(Span::styled("… ", t.pending()));
                spans.push(Span::styled(format!("{name:<name_w$} "), t.value()));
                spans.push(Span::styled(format!("pending → bar {at_bar}"), t.pending()));
            }
            PatchState::Error {
                line,
                col,
                message,
                last_good_playing,
            } => {
                spans.push(Span::styled("✗ ", t.error()));
                spans.push(Span::styled(format!("{name:<name_w$} "), t.value()));
                spans.push(Span::styled(format!("{line}:{col} "), t.error()));
                spans.push(Span::styled(message.clone(), t.text()));
                if *last_good_playing {
                    spans.push(Span::styled(" (last good version plays)", t.dim()));
                }
            }
            PatchState::RuntimeError {
                line,
                col,
                message,
                bar,
            } => {
                spans.push(Span::styled("! ", t.error()));
                spans.push(Span::styled(format!("{name:<name_w$} "), t.value()));
                spans.push(Span::styled(
                    format!("runtime error {line}:{col} "),
                    t.error(),
                ));
                spans.push(Span::styled(message.clone(), t.text()));
                spans.push(Span::styled(
                    format!(" (since bar {bar}; its last good bar plays)"),
                    t.dim(),
                ));
            }
        }
        if let Some(ms) = p.last_reload_ms {
            if !p.state.is_failing() {
                spans.push(Span::styled(format!("  reload {ms:.1} ms"), t.dim()));
            }
        }
        lines.push(Line::from(spans));
    }
    // More patches than rows: one line each in a window that keeps the first failing patch
    // in view, and "+N more".
    let failing = patches
        .iter()
        .position(|p| matches!(p.state, PatchState::Error { .. }));
    let w = window(lines.len(), area.height as usize, failing.unwrap_or(0));
    if w.above + w.below > 0 {
        let shown: Vec<Line> = lines.drain(w.first..w.first + w.shown).collect();
        Paragraph::new(shown).render(area, buf);
        more_hint(t, w, area, area.y + w.shown as u16, buf);
        return;
    }
    // Wrap long errors only when every patch still gets its line; otherwise one line each
    // (the file and `line:col` come first, so they always show).
    let width = area.width.max(1) as usize;
    let wrapped_rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let para = Paragraph::new(lines);
    if wrapped_rows <= area.height as usize {
        para.wrap(Wrap { trim: false }).render(area, buf);
    } else {
        para.render(area, buf);
    }
}
