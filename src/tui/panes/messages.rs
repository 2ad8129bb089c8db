//! Messages pane: the newest lines of the message log, newest at the bottom, with a repeat
//! count for lines that came in a row. A line longer than the pane wraps at word boundaries
//! under its text (the level tag keeps its column), so an error is readable without zooming;
//! when the pane is full the oldest shown message keeps its first rows (its location and
//! what went wrong) and ends in "…" (zoom the pane for all of it). An error of a patch file that
//! no longer fails is kept, dimmed and tagged `fixed`.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{note, put};
use crate::tui::app::App;
use crate::tui::messages::{patch_file, Level};

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let log = &app.messages;
    if log.is_empty() {
        note(t, "no messages", area, buf);
        return;
    }
    // A patch's error stays in the log once the file is fixed, dimmed and tagged "fixed".
    let failing: Vec<&str> = app
        .snapshot
        .patches
        .iter()
        .filter(|p| p.state.is_failing())
        .map(|p| p.file.as_str())
        .collect();
    let fixed =
        |text: &str| app.has_snapshot && patch_file(text).is_some_and(|f| !failing.contains(&f));
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
        let mut wrapped = wrap(&text, text_w);
        // The oldest shown message keeps its start (where and what) when it does not fit
        // whole; "…" ends its last shown row.
        if used + wrapped.len() > rows {
            wrapped.truncate(rows - used);
            if let Some(last) = wrapped.last_mut() {
                if last.chars().count() >= text_w {
                    last.pop();
                }
                last.push('…');
            }
        }
        used += wrapped.len();
        shown.push((m, wrapped));
    }
    let mut y = area.y;
    for (m, wrapped) in shown.iter().rev() {
        let was_fixed = m.level == Level::Error && fixed(&m.text);
        let (tag, style, text_style) = match m.level {
            Level::Info => (m.level.tag(), t.dim(), t.text()),
            Level::Warn => (m.level.tag(), t.warn(), t.text()),
            Level::Error if was_fixed => ("fixed", t.dim(), t.dim()),
            Level::Error => (m.level.tag(), t.error(), t.text()),
        };
        for (i, row) in wrapped.iter().enumerate() {
            if i == 0 {
                put(buf, area, area.x, y, tag, style);
            }
            put(buf, area, area.x + indent as u16, y, row, text_style);
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
        // Nothing is lost: the rows hold every character but the spaces they broke at.
        let kept: String = wrap(long, 20).concat().split(' ').collect();
        assert_eq!(kept, long.split(' ').collect::<String>());
        assert_eq!(
            wrap(long, 30).join(" "),
            long,
            "no word is longer than a row"
        );
    }
}
