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
