//! The real watcher against the ways real editors save a file.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use weft::engine::watch::{DirWatcher, FileChange};

const SRC1: &str = "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x x x x\");\n";
const SRC2: &str = "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x*8\");\n";

fn collect(w: &DirWatcher, wait: Duration) -> Vec<FileChange> {
    let mut out = Vec::new();
    while let Ok(c) = w.changes.recv_timeout(wait) {
        out.push(c);
    }
    out
}

fn setup() -> (tempfile::TempDir, DirWatcher) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.rhai"), SRC1).unwrap();
    let w = DirWatcher::start(dir.path()).unwrap();
    (dir, w)
}

fn assert_one_change(changes: &[FileChange], dir: &Path, want: &str) {
    let changed: Vec<_> = changes
        .iter()
        .filter_map(|c| match c {
            FileChange::Changed { path, source, .. } => Some((path.clone(), source.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(changed.len(), 1, "{changes:?}");
    assert_eq!(changed[0].0, dir.join("a.rhai"));
    assert_eq!(changed[0].1, want);
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, FileChange::Removed { .. })),
        "{changes:?}"
    );
}

#[test]
fn in_place_write() {
    let (dir, w) = setup();
    fs::write(dir.path().join("a.rhai"), SRC2).unwrap();
    assert_one_change(&collect(&w, Duration::from_millis(300)), dir.path(), SRC2);
}

#[test]
fn write_temp_then_rename_like_vscode_and_jetbrains() {
    let (dir, w) = setup();
    let tmp = dir.path().join("a.rhai.tmp.123");
    fs::write(&tmp, SRC2).unwrap();
    fs::rename(&tmp, dir.path().join("a.rhai")).unwrap();
    assert_one_change(&collect(&w, Duration::from_millis(300)), dir.path(), SRC2);
}

#[test]
fn vim_backupcopy_no_renames_the_original_away_and_writes_new() {
    let (dir, w) = setup();
    // vim: probe file 4913, rename a.rhai → a.rhai~, write a new a.rhai, delete the backup.
    fs::write(dir.path().join("4913"), "").unwrap();
    fs::remove_file(dir.path().join("4913")).unwrap();
    fs::rename(dir.path().join("a.rhai"), dir.path().join("a.rhai~")).unwrap();
    fs::write(dir.path().join("a.rhai"), SRC2).unwrap();
    fs::remove_file(dir.path().join("a.rhai~")).unwrap();
    assert_one_change(&collect(&w, Duration::from_millis(300)), dir.path(), SRC2);
}

#[test]
fn delete_then_create() {
    let (dir, w) = setup();
    fs::remove_file(dir.path().join("a.rhai")).unwrap();
    fs::write(dir.path().join("a.rhai"), SRC2).unwrap();
    assert_one_change(&collect(&w, Duration::from_millis(300)), dir.path(), SRC2);
}

#[test]
fn truncate_then_write_in_pieces() {
    let (dir, w) = setup();
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.path().join("a.rhai"))
        .unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(10));
    let (a, b) = SRC2.split_at(10);
    f.write_all(a.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    f.write_all(b.as_bytes()).unwrap();
    drop(f);
    assert_one_change(&collect(&w, Duration::from_millis(300)), dir.path(), SRC2);
}

#[test]
fn swap_backup_and_lock_files_are_ignored_and_reads_do_not_trigger() {
    let (dir, w) = setup();
    for name in [
        ".a.rhai.swp",
        "a.rhai~",
        "4913",
        ".#a.rhai",
        "#a.rhai#",
        "notes.txt",
    ] {
        fs::write(dir.path().join(name), "junk").unwrap();
    }
    let _ = fs::read_to_string(dir.path().join("a.rhai")).unwrap();
    // Touching with identical content is not a change either.
    fs::write(dir.path().join("a.rhai"), SRC1).unwrap();
    let got = collect(&w, Duration::from_millis(300));
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn new_deleted_and_renamed_files() {
    let (dir, w) = setup();
    fs::write(dir.path().join("b.rhai"), SRC2).unwrap();
    let got = collect(&w, Duration::from_millis(300));
    assert!(
        matches!(&got[..], [FileChange::Changed { path, .. }] if path.ends_with("b.rhai")),
        "{got:?}"
    );
    fs::rename(dir.path().join("b.rhai"), dir.path().join("c.rhai")).unwrap();
    let got = collect(&w, Duration::from_millis(300));
    assert!(
        matches!(&got[..], [FileChange::Renamed { from, to }] if from.ends_with("b.rhai") && to.ends_with("c.rhai")),
        "{got:?}"
    );
    fs::remove_file(dir.path().join("c.rhai")).unwrap();
    let got = collect(&w, Duration::from_millis(300));
    assert!(
        matches!(&got[..], [FileChange::Removed { path }] if path.ends_with("c.rhai")),
        "{got:?}"
    );
}
