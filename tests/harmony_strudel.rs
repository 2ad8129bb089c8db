//! weft's scale degrees and `arp` against `@strudel/tonal` 1.1.0 (the oracle), with no node
//! needed: `tests/fixtures/strudel/harmony.json` holds random degree patterns with plain and
//! patterned scales, some through `arp` by index, and Strudel's events over 8 cycles as MIDI
//! notes (written by `benches/peers/strudel/gen_harmony.mjs`). Every event must agree:
//! begin, end and note.

use serde_json::Value as Json;
use weft::patch::mini::{Pattern, Rat, Value};

fn rat(s: &str) -> Rat {
    match s.split_once('/') {
        Some((n, d)) => Rat::new(n.parse().unwrap(), d.parse().unwrap()),
        None => Rat::int(s.parse().unwrap()),
    }
}

#[test]
fn scale_degrees_and_arp_equal_strudel() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/strudel/harmony.json"
    );
    let json: Json = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
        .expect("fixture json");
    assert_eq!(json["strudel"], "1.1.0");
    let cycles = json["cycles"].as_i64().unwrap();
    let cases = json["cases"].as_array().unwrap();
    assert!(cases.len() >= 300, "{}", cases.len());
    let (mut events, mut patterned, mut arps) = (0, 0, 0);
    for c in cases {
        let degrees = c["degrees"].as_str().unwrap();
        let scale = c["scale"].as_str().unwrap();
        let p = Pattern::parse_degrees(degrees).unwrap();
        let mut p = p.scale(&Pattern::parse_scales(scale).unwrap()).unwrap();
        if let Some(a) = c["arp"].as_str() {
            let idx = Pattern::parse(a).unwrap();
            assert!(!idx.arp_kind().unwrap());
            p = p.arp_index(&idx).unwrap();
            arps += 1;
        }
        patterned += usize::from(scale.starts_with('<'));
        let mut want: Vec<(Rat, Rat, u8)> = c["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    rat(e[0].as_str().unwrap()),
                    rat(e[1].as_str().unwrap()),
                    e[2].as_u64().unwrap() as u8,
                )
            })
            .collect();
        let mut got: Vec<(Rat, Rat, u8)> = p
            .events(Rat::ZERO, Rat::int(cycles))
            .into_iter()
            .map(|e| match e.value {
                Value::Num(x) => (e.begin, e.end, x as u8),
                other => panic!("{degrees} / {scale}: value {other}"),
            })
            .collect();
        want.sort();
        got.sort();
        assert_eq!(
            got, want,
            "n(\"{degrees}\").scale(\"{scale}\") arp {:?}",
            c["arp"]
        );
        events += want.len();
    }
    assert!(events >= 2000, "{events}");
    assert!(patterned >= 50 && arps >= 50, "{patterned} {arps}");
}
