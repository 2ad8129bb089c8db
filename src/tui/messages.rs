//! The messages log: a bounded ring of everything weft would otherwise print.
//!
//! Data flow: `AppEvent::Message` (from the engine, the watcher, and the stderr capture that
//! carries alsa-lib noise and panics of other threads) → [`MessageLog::push`] → the messages
//! pane, which shows the newest lines at the bottom. A line equal to the previous one is
//! counted instead of stored again, so a chatty source cannot flush everything else out.

use std::collections::VecDeque;

/// How serious a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    /// Fixed-width tag shown in front of the line (readable without colour).
    pub fn tag(self) -> &'static str {
        match self {
            Level::Info => "info ",
            Level::Warn => "warn ",
            Level::Error => "ERROR",
        }
    }
}

/// One stored line and how many times it arrived in a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
    pub repeats: u32,
}

/// A bounded log; the oldest lines are dropped when it is full.
#[derive(Clone, Debug)]
pub struct MessageLog {
    lines: VecDeque<Message>,
    capacity: usize,
    dropped: u64,
}

impl Default for MessageLog {
    fn default() -> Self {
        MessageLog::new(500)
    }
}

impl MessageLog {
    /// A log keeping at most `capacity` (at least 1) distinct lines.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        MessageLog {
            lines: VecDeque::with_capacity(capacity),
            capacity,
            dropped: 0,
        }
    }

    /// Adds a line; multi-line text is split, each line stored on its own.
    pub fn push(&mut self, level: Level, text: &str) {
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                continue;
            }
            if let Some(last) = self.lines.back_mut() {
                if last.level == level && last.text == line {
                    last.repeats = last.repeats.saturating_add(1);
                    continue;
                }
            }
            if self.lines.len() == self.capacity {
                self.lines.pop_front();
                self.dropped += 1;
            }
            self.lines.push_back(Message {
                level,
                text: line.to_string(),
                repeats: 1,
            });
        }
    }

    /// Stored lines, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Message> + ExactSizeIterator {
        self.lines.iter()
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// How many lines fell off the front since the start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Error lines that still need the performer. An error located in a patch file (a line
    /// starting `path/name.rhai:`) counts only while `failing` (the names of the files the
    /// patches pane shows failing) holds that file name; other errors always count. Without
    /// `failing` (no engine state yet) every error counts.
    pub fn open_errors(&self, failing: Option<&[&str]>) -> usize {
        self.lines
            .iter()
            .filter(|m| m.level == Level::Error)
            .filter(|m| match (failing, patch_file(&m.text)) {
                (Some(failing), Some(file)) => failing.contains(&file),
                _ => true,
            })
            .count()
    }

    /// Count of stored lines at `Level::Error`.
    pub fn errors(&self) -> usize {
        self.lines
            .iter()
            .filter(|m| m.level == Level::Error)
            .count()
    }
}

/// The patch file name (`bass.rhai`) a message is located in, when it starts with a `.rhai`
/// path followed by `:` (`scripts/bass.rhai:7:35: …`, `bass.rhai: …`).
pub fn patch_file(text: &str) -> Option<&str> {
    let end = text.find(".rhai:")? + ".rhai".len();
    let path = &text[..end];
    if path.contains(' ') {
        return None;
    }
    Some(path.rsplit(['/', '\\']).next().unwrap_or(path))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fixed_file_closes_its_errors() {
        let mut log = MessageLog::new(10);
        log.push(Level::Error, "scripts/bass.rhai:7:35: Expecting ')'");
        log.push(Level::Error, "error: the analyzer thread died (boom)");
        log.push(Level::Info, "bass.rhai: loaded in 2.0 ms");
        assert_eq!(log.open_errors(None), 2, "no engine state yet: all count");
        assert_eq!(log.open_errors(Some(&["bass.rhai"])), 2, "still failing");
        assert_eq!(log.open_errors(Some(&[])), 1, "fixed: only the other error");
        assert_eq!(patch_file("scripts/bass.rhai:7:35: x"), Some("bass.rhai"));
        assert_eq!(
            patch_file("bass.rhai: playing from bar 1"),
            Some("bass.rhai")
        );
        assert_eq!(patch_file("error: thread died in x.rhai: y"), None);
        assert_eq!(patch_file("recording to take.mid"), None);
    }

    use super::*;

    #[test]
    fn keeps_only_the_newest_lines() {
        let mut log = MessageLog::new(3);
        for i in 0..5 {
            log.push(Level::Info, &format!("line {i}"));
        }
        let texts: Vec<_> = log.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["line 2", "line 3", "line 4"]);
        assert_eq!(log.dropped(), 2);
    }

    #[test]
    fn repeated_lines_are_counted_not_stored() {
        let mut log = MessageLog::new(3);
        log.push(Level::Warn, "ALSA lib confmisc.c:855: cannot find card '0'");
        log.push(Level::Warn, "ALSA lib confmisc.c:855: cannot find card '0'");
        log.push(
            Level::Error,
            "ALSA lib confmisc.c:855: cannot find card '0'",
        );
        assert_eq!(log.len(), 2);
        assert_eq!(log.iter().next().unwrap().repeats, 2);
    }

    #[test]
    fn multi_line_text_becomes_several_lines_without_blanks() {
        let mut log = MessageLog::new(10);
        log.push(Level::Error, "thread 'x' panicked at a.rs:1:2:\n\nboom\n");
        let texts: Vec<_> = log.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, ["thread 'x' panicked at a.rs:1:2:", "boom"]);
        assert_eq!(log.errors(), 2);
    }
}
