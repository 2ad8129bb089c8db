//! `changepoint` end to end on the shipped demo logs (issue #20, `period`): `weft recommend
//! --eval` validates it against `recency` on rolling origins, names it chosen, and the verdict
//! line says it beats popularity, the user's own most-played, recency and the committed
//! `implicit` ALS lists with paired-bootstrap intervals above 0 — the promise docs/logs.md
//! makes, through the real binary. And the library's validation agrees with what it prints.

use std::process::Command;
use weft::recommend::{changepoint, eval, hybrid};

fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn demo_logs_choose_changepoint_and_it_beats_every_baseline_and_the_peer() {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["recommend", "--logs"])
        .arg(root().join("samples/logs"))
        .args(["--eval", "--peer"])
        .arg(root().join("tests/fixtures/peers/implicit-als.tsv"))
        .output()
        .expect("weft runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let chosen = text
        .lines()
        .find(|l| l.starts_with("validation for period (rolling origins"))
        .unwrap_or_else(|| panic!("no rolling validation line:\n{text}"));
    assert!(chosen.ends_with("chosen: changepoint"), "{chosen}");
    let verdict = text
        .lines()
        .find(|l| {
            l.starts_with("period: model chosen by rolling validation (vs recency) changepoint")
        })
        .unwrap_or_else(|| panic!("no period verdict for changepoint:\n{text}"));
    assert!(!verdict.contains("NOT beaten"), "{verdict}");
    for b in ["popularity", "most-played", "recency", "implicit-als"] {
        assert!(
            verdict.contains(&format!("{b} 0.")),
            "{b} missing: {verdict}"
        );
    }
}

#[test]
fn rolling_validation_is_what_the_cli_prints() {
    let logs = weft::logs::load(&root().join("samples/logs"), Default::default()).unwrap();
    let split = eval::split(&logs, 0.8, 2000);
    let tuning = hybrid::tune(&split.train);
    let v = changepoint::validate(&split.train, tuning.half_life_s).expect("cases");
    assert_eq!(v.origins, 4);
    // 11 users with plays before and after each of the four origins (some miss one).
    assert!(v.cases >= 30, "{v:?}");
    assert!(v.changepoint_hr10 >= v.recency_hr10, "{v:?}");
    assert_eq!(v.chosen(), "changepoint");
    // An empty training set has nothing to validate.
    let empty = weft::recommend::Train::new(0, 0, &[], Vec::new());
    assert!(changepoint::validate(&empty, None).is_none());
}
