//! The key table: one list used by the `?` help overlay, by `docs/keys.md` (a test keeps the
//! two in step) and, through the docs, by the README.

/// `(keys, what they do)`, in the order the help overlay shows them.
pub const KEYS: &[(&str, &str)] = &[
    ("space", "start / stop the transport"),
    ("r", "record on / off (Standard MIDI File)"),
    ("tab / shift-tab", "focus the next / previous pane"),
    ("1 .. 7", "zoom pane N (again, or esc, to unzoom)"),
    ("+ / -", "tempo up / down 1 BPM"),
    ("up / down, k / j", "select a voice (voices pane)"),
    ("m", "mute / unmute the selected voice"),
    ("s", "solo / unsolo the selected voice"),
    (
        "!",
        "panic: all notes off, all sound off on every MIDI channel",
    ),
    ("?", "show / hide this help"),
    ("esc", "close help, unzoom"),
    ("q, ctrl-c", "quit (asks first while recording)"),
    ("mouse click", "focus the pane under the pointer"),
];

/// The key table as a Markdown table (the body of `docs/keys.md`).
pub fn markdown_table() -> String {
    let mut s = String::from("| key | action |\n|---|---|\n");
    for (k, what) in KEYS {
        s.push_str(&format!("| `{k}` | {what} |\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn docs_keys_md_contains_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/keys.md");
        let doc = std::fs::read_to_string(path).expect("docs/keys.md exists");
        assert!(
            doc.contains(&super::markdown_table()),
            "docs/keys.md is out of date; paste tui::keys::markdown_table() into it"
        );
    }
}
