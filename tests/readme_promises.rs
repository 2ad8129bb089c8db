//! What the README tells a new user to type and what it says they will see, checked against
//! the real binary: every command and flag in the command table exists (its `--help` lists
//! it), and the tour's "break it" step prints exactly the line the README quotes.

use std::process::Command;

const README: &str = include_str!("../README.md");

fn weft() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weft"))
}

/// `weft play [DIR] [--headless] …` → (["play"], ["--headless", …]).
fn parse_row(cmd: &str) -> (Vec<String>, Vec<String>) {
    let mut words = cmd.split_whitespace().skip(1); // "weft"
    let mut sub = Vec::new();
    for w in words.by_ref() {
        if w.chars().all(|c| c.is_ascii_lowercase()) {
            sub.push(w.to_string());
        } else {
            break;
        }
    }
    let flags = cmd
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with('-') && w.len() > 1 && !w.starts_with("---"))
        .map(str::to_string)
        .collect();
    (sub, flags)
}

#[test]
fn every_command_and_flag_in_the_readme_table_exists() {
    let rows: Vec<&str> = README
        .lines()
        .filter(|l| l.starts_with("| `weft "))
        .collect();
    assert!(rows.len() >= 10, "the command table moved? {rows:?}");
    let mut checked = 0;
    for row in rows {
        // Each backticked `weft …` in the first cell.
        let cell = row.split(" | ").next().unwrap();
        for cmd in cell.split('`').filter(|c| c.starts_with("weft ")) {
            let (sub, flags) = parse_row(cmd);
            assert!(!sub.is_empty(), "no subcommand in {cmd:?}");
            let out = weft().args(&sub).arg("--help").output().unwrap();
            let help = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "weft {} --help failed: {help}",
                sub.join(" ")
            );
            for f in flags {
                // Long flags appear as `--name`; short ones as `-n,` or `-n <`.
                let found = if f.starts_with("--") {
                    help.contains(&format!("{f} ")) || help.contains(&format!("{f}\n"))
                } else {
                    help.contains(&format!("{f},")) || help.contains(&format!("{f} <"))
                };
                assert!(
                    found,
                    "README: `{cmd}` lists {f}, but `weft {} --help` does not:\n{help}",
                    sub.join(" ")
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "only {checked} flags checked");
}

#[test]
fn the_tours_broken_save_prints_what_the_readme_quotes() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let bass = std::fs::read_to_string(format!("{repo}/scripts/bass.rhai")).unwrap();
    // Step 2 starts from `euclid(5, 8)` in scripts/bass.rhai.
    assert!(README.contains("change `euclid(5, 8)` to `euclid(3, 8)`"));
    assert!(bass.contains("euclid(5, 8)"));
    // "Break it (delete the last `)` of line 5)".
    assert!(README.contains("delete the last `)` of line 5"));
    let mut lines: Vec<String> = bass.lines().map(str::to_string).collect();
    let l5 = &mut lines[4];
    let at = l5.rfind(')').expect("line 5 has a ')'");
    l5.remove(at);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    std::fs::write(
        dir.path().join("scripts/bass.rhai"),
        lines.join("\n") + "\n",
    )
    .unwrap();
    let out = weft()
        .args(["check", "scripts/bass.rhai"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let first = text.lines().next().unwrap().trim().to_string();
    // The README wraps the quote over lines: compare with its whitespace folded.
    let folded: String = README.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        folded.contains(&format!("weft prints `{first}`")),
        "README should quote: {first}"
    );
}
