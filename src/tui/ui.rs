//! Screen layout and overlays: where each pane goes for the terminal size, the help and
//! quit-confirmation popups.
//!
//! Two layouts: compact (under 120×36: transport on top, then a 2×3 grid) and wide (transport
//! on top, voices and spectrum on the left, patches, messages, recommend and forecast on the
//! right). A zoomed pane takes the whole screen.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget};

use super::app::{App, Overlay, Pane};
use super::keys::KEYS;
use super::panes;

/// Where each pane goes on a screen of `area`.
pub(crate) fn layout(app: &App, area: Rect) -> Vec<(Pane, Rect)> {
    if let Some(p) = app.zoom {
        return vec![(p, area)];
    }
    // The transport gets a third line when outputs besides the synth are open.
    let top_h = if app.snapshot.transport.outputs.is_empty() {
        4
    } else {
        5
    };
    let [top, body] =
        Layout::vertical([Constraint::Length(top_h), Constraint::Fill(1)]).areas(area);
    if area.width >= 120 && area.height >= 36 {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(58), Constraint::Fill(1)]).areas(body);
        let [voices, spectrum] =
            Layout::vertical([Constraint::Fill(3), Constraint::Fill(2)]).areas(left);
        let patches_h = (app.snapshot.patches.len() as u16 + 2).clamp(5, 10);
        let [patches, messages, recommend, forecast] = Layout::vertical([
            Constraint::Length(patches_h),
            Constraint::Fill(2),
            Constraint::Fill(2),
            Constraint::Fill(3),
        ])
        .areas(right);
        vec![
            (Pane::Transport, top),
            (Pane::Patches, patches),
            (Pane::Voices, voices),
            (Pane::Spectrum, spectrum),
            (Pane::Messages, messages),
            (Pane::Recommend, recommend),
            (Pane::Forecast, forecast),
        ]
    } else {
        let rows = Layout::vertical([
            Constraint::Fill(6),
            Constraint::Fill(7),
            Constraint::Fill(7),
        ])
        .split(body);
        let cols = |r: Rect| {
            Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas::<2>(r)
        };
        let [patches, messages] = cols(rows[0]);
        let [voices, spectrum] = cols(rows[1]);
        let [recommend, forecast] = cols(rows[2]);
        vec![
            (Pane::Transport, top),
            (Pane::Patches, patches),
            (Pane::Voices, voices),
            (Pane::Spectrum, spectrum),
            (Pane::Messages, messages),
            (Pane::Recommend, recommend),
            (Pane::Forecast, forecast),
        ]
    }
}

/// Draws the panes at `rects`, then the overlay.
pub(crate) fn draw(app: &App, rects: &[(Pane, Rect)], area: Rect, buf: &mut Buffer) {
    for (pane, rect) in rects {
        panes::render(*pane, app, *rect, buf);
    }
    match app.overlay {
        Overlay::None => {}
        Overlay::Help => help(app, area, buf),
        Overlay::ConfirmQuit => confirm_quit(app, area, buf),
    }
}

fn popup(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn help(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let key_w = KEYS.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let text_w = KEYS.iter().map(|(_, d)| d.len()).max().unwrap_or(0);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:>key_w$}  "), t.accent()),
                Span::styled(*what, t.text()),
            ])
        })
        .collect();
    lines.push(Line::styled(" ? or esc closes this help", t.dim()));
    let rect = popup(area, (key_w + text_w + 6) as u16, lines.len() as u16 + 2);
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .block(
            Block::bordered()
                .border_type(BorderType::Double)
                .border_style(t.border_focused())
                .title(Span::styled(" keys ", t.title())),
        )
        .render(rect, buf);
}

fn confirm_quit(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let file = app
        .snapshot
        .transport
        .recording
        .as_ref()
        .map(|r| r.file.as_str())
        .unwrap_or("");
    let head = format!("Recording to {file}.");
    let ask = "Quit and stop the recording?";
    let keys = "y quit   n keep playing";
    // Sized to its content within the screen: a long file name is cut into lines of the
    // inner width (paths have no spaces to wrap at), and when the screen is too low the
    // start of the name goes first, so the question and the y/n line always show.
    let content = [head.chars().count(), ask.len(), keys.len()]
        .into_iter()
        .max()
        .unwrap_or(0);
    let inner_w = content.min(area.width.saturating_sub(2) as usize).max(1);
    let chars: Vec<char> = head.chars().collect();
    let mut lines: Vec<Line> = chars
        .chunks(inner_w)
        .map(|c| Line::styled(c.iter().collect::<String>(), t.recording()))
        .collect();
    lines.push(Line::raw(ask));
    lines.push(Line::from(vec![
        Span::styled("y", t.accent()),
        Span::raw(" quit   "),
        Span::styled("n", t.accent()),
        Span::raw(" keep playing"),
    ]));
    let room = area.height.saturating_sub(2) as usize;
    if lines.len() > room {
        lines.drain(..lines.len() - room);
    }
    let rect = popup(area, inner_w as u16 + 2, lines.len() as u16 + 2);
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .style(Style::new())
        .block(
            Block::bordered()
                .border_type(BorderType::Double)
                .border_style(t.warn())
                .title(Span::styled(" quit? ", t.warn())),
        )
        .render(rect, buf);
}
