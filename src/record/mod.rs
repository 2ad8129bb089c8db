//! Recording: the event stream the synth plays → an append-only journal → a MIDI file.
//!
//! The scheduler hands each batch of events to the recorder over a channel and never
//! waits for it; the recorder thread appends them to `<target>.weftjournal` (one text
//! record per line, each ending in a checksum), flushes after every batch (the scheduler
//! sends batches every few milliseconds, so well within a beat) and fsyncs at every bar.
//! On a clean stop the journal becomes the SMF (through the same writer as `weft render`)
//! and is removed. After a crash or `kill -9`, [`recover`] turns whatever the journal holds
//! into a valid SMF: a torn last record is cut, every open note is closed at the end.
//!
//! One file per responsibility:
//! - [`target`]: which file a recording goes to (numbered names, never overwriting);
//! - [`journal`]: the journal's record format, its lock, and the reader that resyncs after
//!   damage;
//! - [`recorder`]: the recorder thread and its handle;
//! - [`recover`](mod@recover): a journal → its MIDI file, after a clean stop or a crash;
//! - [`smf`]: the Standard MIDI File writer and reader.

pub mod journal;
pub mod recorder;
pub mod recover;
pub mod smf;
pub mod target;

pub use journal::{parse_journal, read_journal, JournalContents};
pub use recorder::{Finished, RecordMsg, RecordOptions, Recorder};
pub use recover::{find_journals, recover};
pub use target::{
    choose_target, civil, default_target, journal_path, next_free, target_of, RecordTarget,
};

use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum RecordError {
    #[error("{path}: {error}")]
    Io { path: String, error: std::io::Error },
    #[error("{path}: not a weft journal (bad header)")]
    NotAJournal { path: String },
    #[error("{path}: in use by another weft; left alone")]
    InUse { path: String },
    #[error("{path}: finished or replaced by its own weft meanwhile; left alone")]
    Gone { path: String },
    #[error("{path}: cannot record here: {error}")]
    Unwritable { path: String, error: std::io::Error },
    #[error("{path}: no free recording name (tried {tries} numbered names)")]
    NoFreeName { path: String, tries: u32 },
    #[error(transparent)]
    Smf(#[from] crate::record::smf::SmfError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> RecordError + '_ {
    move |error| RecordError::Io {
        path: path.display().to_string(),
        error,
    }
}
