//! End-to-end checks on generated logs: the synthetic generator's files load back through the
//! importers without errors, overlapping exports are deduplicated, and the recommend /
//! forecast APIs the TUI panes call return sensible plain data.

use weft::logs::{self, synth, PlayRule};
use weft::{forecast, recommend};

#[test]
fn synth_roundtrip_dedupe_and_panes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = synth::SynthConfig {
        users: 6,
        days: 60,
        seed: 5,
        artists: 80,
        ..Default::default()
    };
    synth::write(&cfg, dir.path()).unwrap();
    let world = synth::generate(&cfg);
    let logs = logs::load(dir.path(), PlayRule::default()).unwrap();
    assert_eq!(logs.report.bad, 0, "{}", logs.report);
    // Every non-skipped generated play is a play exactly once (the account-data export
    // overlapping user00's extended history is dropped as duplicates); plus weft sessions.
    let played = world.plays.iter().filter(|p| !p.skipped).count();
    let weft_id = logs.artists.get("weft");
    let from_weft = logs
        .plays
        .iter()
        .filter(|p| Some(logs.items[p.item as usize].artist) == weft_id)
        .count();
    assert_eq!(from_weft, 12);
    assert_eq!(logs.plays.len() - from_weft, played);
    assert!(logs.report.duplicates > 0);
    assert_eq!(logs.users.len(), 7);

    let v = recommend::for_pane(dir.path(), Some("user01")).unwrap();
    assert_eq!(v.user, "user01");
    assert_eq!(v.items.len(), 20);
    assert!(v.items.iter().all(|i| !i.because.is_empty()));

    let f = forecast::for_pane(dir.path()).unwrap();
    assert_eq!(f.forecast.len(), 28);
    for d in &f.forecast {
        assert!(
            d.lo95 <= d.lo80 && d.lo80 <= d.mean && d.mean <= d.hi80 && d.hi80 <= d.hi95,
            "{f:?}"
        );
    }
    assert_eq!(f.history.len(), 60);
}

#[test]
fn unknown_user_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    synth::write(
        &synth::SynthConfig {
            users: 2,
            days: 20,
            artists: 20,
            ..Default::default()
        },
        dir.path(),
    )
    .unwrap();
    let e = recommend::for_pane(dir.path(), Some("nobody")).unwrap_err();
    assert!(e.to_string().contains("unknown user \"nobody\""), "{e}");
}
