//! Messages pane: the newest lines of the message log, newest at the bottom, one line each
//! (zoom the pane to read long ones), with a repeat count for lines that came in a row.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{note, put};
use crate::tui::app::App;
use crate::tui::messages::Level;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let log = &app.messages;
    if log.is_empty() {
        note(t, "no messages", area, buf);
        return;
    }
    let rows = area.height as usize;
    let skip = log.len().saturating_sub(rows);
    for (i, m) in log.iter().skip(skip).enumerate() {
        let y = area.y + i as u16;
        let style = match m.level {
            Level::Info => t.dim(),
            Level::Warn => t.warn(),
            Level::Error => t.error(),
        };
        let mut x = put(buf, area, area.x, y, m.level.tag(), style);
        x = put(buf, area, x + 1, y, &m.text, t.text());
        if m.repeats > 1 {
            put(buf, area, x, y, &format!(" ×{}", m.repeats), t.dim());
        }
    }
}
