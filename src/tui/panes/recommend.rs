//! Recommend pane: the top items from the listening logs with their score and a short
//! "because" (the items that led to them), under a line naming the model and user.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{note, put, ready_or_explain};
use crate::tui::app::App;

pub(super) fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let t = &app.theme;
    let Some(rec) = ready_or_explain(t, &app.snapshot.recommend, area, buf) else {
        return;
    };
    let mut x = put(buf, area, area.x, area.y, "model ", t.label());
    x = put(buf, area, x, area.y, &rec.model, t.value());
    if let Some(user) = &rec.user {
        x = put(buf, area, x, area.y, "  for ", t.label());
        put(buf, area, x, area.y, user, t.value());
    }
    let body = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(1),
        ..area
    };
    if rec.items.is_empty() {
        note(t, "no recommendations: too few listens yet", body, buf);
        return;
    }
    // In a tall pane each item gets a second line for its "because".
    let two_lines = body.height as usize >= rec.items.len() * 2;
    let mut y = body.y;
    for (i, item) in rec.items.iter().enumerate() {
        if y >= body.bottom() {
            break;
        }
        let mut x = put(buf, body, body.x, y, &format!("{:>2}. ", i + 1), t.dim());
        x = put(buf, body, x, y, &item.title, t.value());
        x = put(buf, body, x, y, " — ", t.dim());
        x = put(buf, body, x, y, &item.artist, t.text());
        x = put(buf, body, x, y, &format!("  {:.2}", item.score), t.accent());
        let because = item.because.join(", ");
        if two_lines {
            y += 1;
            if !because.is_empty() && y < body.bottom() {
                let x = put(buf, body, body.x + 4, y, "because ", t.label());
                put(buf, body, x, y, &because, t.dim());
            }
        } else if !because.is_empty() {
            let x = put(buf, body, x, y, "  ← ", t.label());
            put(buf, body, x, y, &because, t.dim());
        }
        y += 1;
    }
}
