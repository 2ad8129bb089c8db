//! Messages pane: the newest lines of the message log, newest at the bottom, with a repeat
//! count for lines that came in a row. A line longer than the pane wraps at word boundaries
//! under its text (the level tag keeps its column), so an error is readable without zooming;
//! when the pane is full the oldest rows scroll off the top.

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
    let indent = Level::Info.tag().chars().count() + 1;
    let text_w = (area.width as usize).saturating_sub(indent).max(1);
    // Newest first, until the pane is full: (message, its wrapped rows).
    let mut shown = Vec::new();
    let mut used = 0;
    for m in log.iter().rev() {
        if used >= rows {
            break;
        }
        let mut text = m.text.clone();
        if m.repeats > 1 {
            text.push_str(&format!(" ×{}", m.repeats));
        }
        let wrapped = wrap(&text, text_w);
        used += wrapped.len();
        shown.push((m, wrapped));
    }
    // The oldest shown message loses its first rows when it does not fit.
    let mut skip = used.saturating_sub(rows);
    let mut y = area.y;
    for (m, wrapped) in shown.iter().rev() {
        let style = match m.level {
            Level::Info => t.dim(),
            Level::Warn => t.warn(),
            Level::Error => t.error(),
        };
        for (i, row) in wrapped.iter().enumerate() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            if i == 0 {
                put(buf, area, area.x, y, m.level.tag(), style);
            }
            put(buf, area, area.x + indent as u16, y, row, t.text());
            y += 1;
        }
    }
}

/// `text` in rows of at most `width` characters, broken at spaces where it can be (a word
/// longer than a row is cut); no row is empty unless the text is.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rows = Vec::new();
    let mut row = String::new();
    let mut row_w = 0;
    for word in text.split(' ') {
        let w = word.chars().count();
        if row_w > 0 && row_w + 1 + w <= width {
            row.push(' ');
            row.push_str(word);
            row_w += 1 + w;
            continue;
        }
        if row_w > 0 {
            rows.push(std::mem::take(&mut row));
        }
        // A word wider than a row is cut into row-wide pieces.
        let chars: Vec<char> = word.chars().collect();
        let mut pieces = chars.chunks(width).peekable();
        row_w = 0;
        while let Some(p) = pieces.next() {
            if pieces.peek().is_some() {
                rows.push(p.iter().collect());
            } else {
                row = p.iter().collect();
                row_w = p.len();
            }
        }
    }
    if !row.is_empty() || rows.is_empty() {
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert_eq!(wrap("short", 80), ["short"]);
        assert_eq!(wrap("", 10), [""]);
        let long = "scripts/bass.rhai:7:35: Expecting ')' to close the arguments list";
        for row in wrap(long, 20) {
            assert!(row.chars().count() <= 20, "{row}");
        }
        assert_eq!(wrap(long, 20).join(" "), long);
    }
}
