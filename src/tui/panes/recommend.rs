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
        // "artist – title", as `weft recommend` prints it.
        x = put(buf, body, x, y, &item.artist, t.text());
        x = put(buf, body, x, y, " – ", t.dim());
        x = put(buf, body, x, y, &item.title, t.value());
        x = put(buf, body, x, y, &format!("  {:.2}", item.score), t.accent());
        if two_lines {
            y += 1;
            if !item.because.is_empty() && y < body.bottom() {
                let x = put(buf, body, body.x + 4, y, "because ", t.label());
                let room = body.right().saturating_sub(x) as usize;
                put(buf, body, x, y, &fit_names(&item.because, room), t.dim());
            }
        } else if !item.because.is_empty() {
            let x = put(buf, body, x, y, "  ← ", t.label());
            let room = body.right().saturating_sub(x) as usize;
            put(buf, body, x, y, &fit_names(&item.because, room), t.dim());
        }
        y += 1;
    }
}

/// The names joined with ", " in at most `width` columns: whole names only, and "…" where
/// some did not fit — never a name cut in the middle.
fn fit_names(names: &[String], width: usize) -> String {
    // Display width in columns (wide characters count two), as ratatui measures it.
    let w = |s: &str| ratatui::text::Span::raw(s).width();
    let all = names.join(", ");
    if w(&all) <= width {
        return all;
    }
    let mut out = String::new();
    for n in names {
        let sep = if out.is_empty() { "" } else { ", " };
        // Keep room for the ", …" that says more names follow.
        if w(&out) + w(sep) + w(n) + w(", …") > width {
            break;
        }
        out.push_str(sep);
        out.push_str(n);
    }
    if out.is_empty() {
        "…".into()
    } else {
        out + ", …"
    }
}

#[cfg(test)]
mod tests {
    use super::fit_names;

    #[test]
    fn names_are_never_cut_mid_word() {
        let v: Vec<String> = ["Angel", "Unfinished Sympathy", "Protection"]
            .map(String::from)
            .to_vec();
        assert_eq!(fit_names(&v, 80), "Angel, Unfinished Sympathy, Protection");
        assert_eq!(fit_names(&v, 20), "Angel, …");
        assert_eq!(fit_names(&v, 3), "…");
        assert_eq!(fit_names(&v, 30), "Angel, Unfinished Sympathy, …");
    }
}
