//! Stored cycles (the per-cycle results of periodic patterns) must give exactly what walking
//! the pattern tree gives: every pattern of the Strudel fixture corpus, over more than one
//! longest stored period (64 cycles), far cycles and two seeds.

use weft::patch::mini::Pattern;

#[test]
fn stored_cycles_equal_the_tree_walk_on_the_whole_corpus() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/fixtures/strudel/mini.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut stored = 0;
    let cases = json["cases"].as_array().unwrap();
    for case in cases {
        let src = case["pattern"].as_str().unwrap();
        let p = Pattern::parse(src).unwrap();
        let walk = p.without_cycle_cache();
        if p == walk {
            continue;
        }
        stored += 1;
        let mut buf = Vec::new();
        for c in (0..66).chain([999_983, (1 << 22) - 1, 1 << 22, u64::MAX]) {
            for seed in [0, 3] {
                let want = walk.query_seeded(c, seed);
                assert_eq!(p.query_seeded(c, seed), want, "{src} cycle {c} seed {seed}");
                p.query_seeded_into(c, seed, &mut buf);
                assert_eq!(buf, want, "{src} cycle {c} seed {seed} (into)");
            }
        }
    }
    // Most of the corpus is periodic and deterministic (or has deterministic layers).
    assert!(
        stored * 2 > cases.len(),
        "{stored} of {} stored",
        cases.len()
    );
}
