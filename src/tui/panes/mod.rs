//! The seven panes. Each is a function `(app, area, buffer)` that draws its border, title and
//! content from the latest snapshot; none of them keeps state between frames.

mod forecast;
mod messages;
mod patches;
mod recommend;
mod spectrum;
mod transport;
mod voices;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};

use super::app::{App, Pane};
use super::model::Availability;
use super::theme::Theme;

/// Draws `pane` into `area`.
pub(crate) fn render(pane: Pane, app: &App, area: Rect, buf: &mut Buffer) {
    if area.width < 3 || area.height < 3 {
        return;
    }
    let inner = frame(pane, app, area, buf);
    if inner.is_empty() {
        return;
    }
    if !app.has_snapshot && matches!(pane, Pane::Patches | Pane::Transport | Pane::Voices) {
        unavailable(&app.theme, "waiting for the engine", inner, buf);
        return;
    }
    match pane {
        Pane::Patches => patches::render(app, inner, buf),
        Pane::Transport => transport::render(app, inner, buf),
        Pane::Voices => voices::render(app, inner, buf),
        Pane::Spectrum => spectrum::render(app, inner, buf),
        Pane::Messages => messages::render(app, inner, buf),
        Pane::Recommend => recommend::render(app, inner, buf),
        Pane::Forecast => forecast::render(app, inner, buf),
    }
}

/// Border and title; the focused pane gets a thick border (visible without colour).
fn frame(pane: Pane, app: &App, area: Rect, buf: &mut Buffer) -> Rect {
    let t = &app.theme;
    let focused = app.focus == pane;
    let mut title = vec![Span::styled(
        format!(" {} {} ", pane.number(), pane.name()),
        if focused {
            t.border_focused()
        } else {
            t.title()
        },
    )];
    if let Some(extra) = title_extra(pane, app) {
        title.push(extra);
    }
    let mut block = Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused {
            t.border_focused()
        } else {
            t.border()
        })
        .title(Line::from(title));
    if pane == Pane::Transport {
        block = block.title_top(
            Line::from(vec![
                Span::styled(" ? ", t.accent()),
                Span::styled("help ", t.dim()),
            ])
            .right_aligned(),
        );
    }
    if app.zoom == Some(pane) {
        block = block.title_bottom(Line::styled(
            format!(" zoomed: {} or esc to return ", pane.number()),
            t.dim(),
        ));
    }
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// Short live status appended to a pane title.
fn title_extra(pane: Pane, app: &App) -> Option<Span<'static>> {
    let t = &app.theme;
    match pane {
        Pane::Spectrum => {
            let s = app.snapshot.spectrum.ready()?;
            s.onset.then(|| Span::styled(" onset ", t.flash()))
        }
        Pane::Messages => {
            // Errors still open: a patch's error counts while that file fails.
            let failing: Vec<&str> = app
                .snapshot
                .patches
                .iter()
                .filter(|p| p.state.is_failing())
                .map(|p| p.file.as_str())
                .collect();
            let errors = app
                .messages
                .open_errors(app.has_snapshot.then_some(&failing[..]));
            (errors > 0).then(|| {
                Span::styled(
                    format!(" {errors} error{} ", if errors == 1 { "" } else { "s" }),
                    t.error(),
                )
            })
        }
        Pane::Patches => {
            let errors = app
                .snapshot
                .patches
                .iter()
                .filter(|p| p.state.is_failing())
                .count();
            (app.has_snapshot && errors > 0)
                .then(|| Span::styled(format!(" {errors} failing "), t.error()))
        }
        _ => None,
    }
}

/// "not available: <why>" — the only thing a pane shows when its source is missing.
fn unavailable(t: &Theme, why: &str, area: Rect, buf: &mut Buffer) {
    Paragraph::new(Line::from(vec![
        Span::styled("not available: ", t.warn()),
        Span::styled(why.to_string(), t.dim()),
    ]))
    .wrap(Wrap { trim: true })
    .render(area, buf);
}

/// A quiet one-line note (empty states).
fn note(t: &Theme, text: &str, area: Rect, buf: &mut Buffer) {
    Paragraph::new(Line::styled(text.to_string(), t.dim()))
        .wrap(Wrap { trim: true })
        .render(area, buf);
}

/// Draws the non-ready states of an [`Availability`]; returns the data when ready.
fn ready_or_explain<'a, T>(
    t: &Theme,
    a: &'a Availability<T>,
    area: Rect,
    buf: &mut Buffer,
) -> Option<&'a T> {
    match a {
        Availability::Ready(v) => Some(v),
        Availability::Working(what) => {
            Paragraph::new(Line::from(vec![
                Span::styled("working: ", t.pending()),
                Span::styled(what.clone(), t.dim()),
            ]))
            .wrap(Wrap { trim: true })
            .render(area, buf);
            None
        }
        Availability::Unavailable(why) => {
            unavailable(t, why, area, buf);
            None
        }
    }
}

/// Writes `s` at (x, y) clipped to the area's right edge; returns the column after it.
fn put(buf: &mut Buffer, area: Rect, x: u16, y: u16, s: &str, style: Style) -> u16 {
    if y >= area.bottom() || x >= area.right() {
        return x;
    }
    let (nx, _) = buf.set_stringn(x, y, s, (area.right() - x) as usize, style);
    nx
}

/// Which rows of a list show when `total` items (one row each) meet `rows` rows: all of them
/// when they fit; otherwise a window that follows `selected`, with the last row kept for a
/// "+N more" hint ([`more_hint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub first: usize,
    pub shown: usize,
    /// Items above and below the window.
    pub above: usize,
    pub below: usize,
}

pub(crate) fn window(total: usize, rows: usize, selected: usize) -> Window {
    if total <= rows || rows < 2 {
        let shown = total.min(rows);
        return Window {
            first: 0,
            shown,
            above: 0,
            below: total - shown,
        };
    }
    let shown = rows - 1;
    let first = selected
        .min(total - 1)
        .saturating_sub(shown - 1)
        .min(total - shown);
    Window {
        first,
        shown,
        above: first,
        below: total - first - shown,
    }
}

/// The hint row under a scrolled list: "+5 more (↑2 ↓3)".
pub(crate) fn more_hint(t: &Theme, w: Window, area: Rect, y: u16, buf: &mut Buffer) {
    let n = w.above + w.below;
    if n == 0 {
        return;
    }
    let mut text = format!("+{n} more (");
    if w.above > 0 {
        text.push_str(&format!("↑{}", w.above));
    }
    if w.above > 0 && w.below > 0 {
        text.push(' ');
    }
    if w.below > 0 {
        text.push_str(&format!("↓{}", w.below));
    }
    text.push(')');
    put(buf, area, area.x, y, &text, t.dim());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fits_all_or_follows_the_selection_with_a_hint_row() {
        let all = window(4, 5, 3);
        assert_eq!((all.first, all.shown, all.above, all.below), (0, 4, 0, 0));
        // 9 items, 5 rows: 4 items and the hint row.
        let w = window(9, 5, 0);
        assert_eq!((w.first, w.shown, w.above, w.below), (0, 4, 0, 5));
        let w = window(9, 5, 3);
        assert_eq!((w.first, w.shown), (0, 4));
        let w = window(9, 5, 4);
        assert_eq!((w.first, w.shown, w.above, w.below), (1, 4, 1, 4));
        let w = window(9, 5, 8);
        assert_eq!((w.first, w.shown, w.above, w.below), (5, 4, 5, 0));
        // A selection past the end is clamped.
        assert_eq!(window(9, 5, 100).first, 5);
        // One row: no room for a hint.
        let w = window(9, 1, 6);
        assert_eq!((w.first, w.shown, w.below), (0, 1, 8));
    }
}
