//! The play session as a type: `Session::start` + `run` headless, in-process, on the null
//! sink. It ends cleanly after its bars, writes the take and the session log, reports through
//! the line sink — and every thread it started has been joined when `run` returns.

use weft::engine::live::LiveConfig;
use weft::engine::session::{Ending, Session, SessionConfig};

/// Names of this process's threads that weft started (all are named `weft-…`).
fn weft_threads() -> Vec<String> {
    let mut names = Vec::new();
    for t in std::fs::read_dir("/proc/self/task").unwrap() {
        let comm = t.unwrap().path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            let name = name.trim().to_string();
            if name.starts_with("weft-") {
                names.push(name);
            }
        }
    }
    names.sort();
    names
}

#[test]
fn a_headless_session_plays_its_bars_records_and_joins_every_thread_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("scripts");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(
        scripts.join("a.rhai"),
        "voice(\"k\", #{ synth: \"kick\" }).pattern(\"x ~ x x\");\n",
    )
    .unwrap();
    let take = dir.path().join("take.mid");
    let rec_dir = dir.path().join("rec");
    let mut live = LiveConfig::new(&scripts);
    live.tempo = Some(240.0);
    live.bars = Some(2);
    live.record = Some(take.clone());
    live.record_dir = rec_dir.clone();
    live.session_log = Some(rec_dir.join("sessions.jsonl"));
    let cfg = SessionConfig {
        live,
        audio: weft::sound::output::AudioConfig {
            null_audio: true,
            ..Default::default()
        },
        models_dir: dir.path().join("models"),
        screen: None,
        midi: None,
    };
    assert!(weft_threads().is_empty(), "{:?}", weft_threads());
    let session = Session::start(cfg).unwrap();
    assert!(
        !weft_threads().is_empty(),
        "the session runs on its own threads"
    );
    assert!(session.messages().iter().any(|m| m.starts_with("audio: ")));
    let mut lines = Vec::new();
    let ending = session.run(|l| lines.push(l.to_string())).unwrap();
    assert_eq!(ending, Ending::Clean, "{lines:#?}");
    assert_eq!(weft_threads(), Vec::<String>::new(), "joined on shutdown");
    assert!(
        lines.iter().any(|l| l.starts_with("weft: audio: ")),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("recorded ")),
        "{lines:#?}"
    );
    assert_eq!(
        lines.last().map(String::as_str),
        Some("stopped"),
        "{lines:#?}"
    );
    let smf = weft::record::smf::read(&std::fs::read(&take).unwrap(), "take.mid").unwrap();
    assert!(smf.problems.is_empty(), "{:?}", smf.problems);
    // Two bars of 4/4 at "x ~ x x": 3 kicks a bar.
    assert_eq!(smf.notes.len(), 6);
    let log = std::fs::read_to_string(rec_dir.join("sessions.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 1);
}
