//! Crash safety: `kill -9` a recording `weft play --headless` mid-bar, then `weft recover`.

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;
use weft::record::smf;

/// An independent reader: walks the raw SMF bytes (no midly) and counts note-ons/offs and markers.
fn raw_scan(b: &[u8]) -> (usize, usize, Vec<String>) {
    assert_eq!(&b[0..4], b"MThd");
    let ntracks = u16::from_be_bytes([b[10], b[11]]) as usize;
    let mut pos = 14;
    let (mut ons, mut offs, mut markers) = (0, 0, Vec::new());
    for _ in 0..ntracks {
        assert_eq!(&b[pos..pos + 4], b"MTrk");
        let len = u32::from_be_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
        let end = pos + 8 + len;
        let mut p = pos + 8;
        let mut status = 0u8;
        let varlen = |p: &mut usize| {
            let mut v = 0usize;
            loop {
                let c = b[*p];
                *p += 1;
                v = (v << 7) | (c & 0x7f) as usize;
                if c & 0x80 == 0 {
                    return v;
                }
            }
        };
        while p < end {
            varlen(&mut p);
            if b[p] & 0x80 != 0 {
                status = b[p];
                p += 1;
            }
            match status {
                0xFF => {
                    let kind = b[p];
                    p += 1;
                    let l = varlen(&mut p);
                    if kind == 0x06 {
                        markers.push(String::from_utf8_lossy(&b[p..p + l]).into_owned());
                    }
                    p += l;
                }
                0xF0 | 0xF7 => {
                    let l = varlen(&mut p);
                    p += l;
                }
                s => {
                    let (d1, d2) = (
                        b[p],
                        if matches!(s & 0xF0, 0xC0 | 0xD0) {
                            0
                        } else {
                            b[p + 1]
                        },
                    );
                    let _ = d1;
                    match s & 0xF0 {
                        0x90 if d2 > 0 => ons += 1,
                        0x80 | 0x90 => offs += 1,
                        _ => {}
                    }
                    p += if matches!(s & 0xF0, 0xC0 | 0xD0) {
                        1
                    } else {
                        2
                    };
                }
            }
        }
        assert_eq!(p, end, "track length matches its events");
        pos = end;
    }
    (ons, offs, markers)
}

#[test]
fn kill_9_mid_bar_then_recover() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    fs::create_dir(&scripts).unwrap();
    fs::write(
        scripts.join("a.rhai"),
        "quantize(\"bar\");\nvoice(\"k\", #{ synth: \"kick\" }).pattern(\"x x x x\");\nvoice(\"p\", #{ note: 60 }).pattern(\"c4 _ _ _\").gate(1.0);\n",
    )
    .unwrap();
    let out = dir.path().join("take.mid");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "play",
            "--headless",
            "--null-audio",
            "--tempo",
            "240",
            "--record",
        ])
        .arg(&out)
        .arg(&scripts)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Not on the wall clock (a loaded machine starts weft late): read the journal as it grows
    // and act on what it holds. Save once bar 2 has begun, so a reload marker exists; kill
    // once the journal reaches the middle of the bar after the swap.
    let journal = weft::record::journal_path(&out);
    let bar = 3840;
    let reached = |tick: u64| {
        weft::record::read_journal(&journal)
            .ok()
            .and_then(|j| j.midi.events.last().map(|e| e.0 >= tick))
            .unwrap_or(false)
    };
    // A hang guard, not a speed check: up to a minute of 5 ms polls.
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        if !(0..12_000).any(|_| {
            f() || {
                std::thread::sleep(Duration::from_millis(5));
                false
            }
        }) {
            panic!("{what}: never");
        }
    };
    wait("bar 2", &|| reached(bar));
    fs::write(
        scripts.join("a.rhai"),
        "quantize(\"bar\");\nvoice(\"k\", #{ synth: \"kick\", note: 40 }).pattern(\"x x x x\");\nvoice(\"p\", #{ note: 60 }).pattern(\"c4 _ _ _\").gate(1.0);\n",
    )
    .unwrap();
    let swapped_at = || {
        weft::record::read_journal(&journal).ok().and_then(|j| {
            j.midi
                .markers
                .iter()
                .find(|m| m.1 == "a.rhai v2")
                .map(|m| m.0)
        })
    };
    wait("the swap", &|| swapped_at().is_some());
    let v2 = swapped_at().unwrap().max(2 * bar);
    wait("mid-bar after the swap", &|| reached(v2 + bar + bar / 2));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    assert!(journal.exists(), "the journal survives the kill");
    assert!(!out.exists());

    let o = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("recover")
        .arg(&journal)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("take.mid"));
    let bytes = fs::read(&out).unwrap();
    let rb = smf::read(&bytes, "take.mid").unwrap();
    assert!(rb.problems.is_empty(), "{:?}", rb.problems);
    // Every note of the completed bars (bars 1 and 2: 4 kicks + 1 pad each).
    for b in 0..2u64 {
        let kicks = rb
            .notes
            .iter()
            .filter(|n| n.track == "a.k" && n.start / bar == b)
            .count();
        let pads = rb
            .notes
            .iter()
            .filter(|n| n.track == "a.p" && n.start / bar == b)
            .count();
        assert_eq!((kicks, pads), (4, 1), "bar {b}");
    }
    // The reload marker is there, on a bar line, and the new key plays from it.
    let v2 = rb
        .markers
        .iter()
        .find(|m| m.1 == "a.rhai v2")
        .expect("reload marker")
        .0;
    assert_eq!(v2 % bar, 0);
    assert!(rb
        .notes
        .iter()
        .filter(|n| n.track == "a.k")
        .all(|n| (n.start >= v2) == (n.key == 40)));
    // The independent reader agrees: every on has an off, markers match.
    let (ons, offs, markers) = raw_scan(&bytes);
    assert_eq!(ons, rb.notes.len());
    assert_eq!(ons, offs);
    assert!(markers.contains(&"a.rhai v2".to_string()) && markers.contains(&"start".to_string()));
}
