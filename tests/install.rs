//! An installed weft works from anywhere: the binary alone, copied into a temporary folder
//! outside the repository (as `cargo install` / `make install` leaves it), run from another
//! temporary folder with HOME and XDG_DATA_HOME pointed into a third, renders a patch in
//! `~/jam/` with an `.lstm()` voice and a GM voice — its model and SoundFont come from the
//! data it unpacks — and says where it looked when a model is missing.

use std::path::Path;
use std::process::{Command, Output};

const PATCH: &str = r#"
voice("lead", #{ synth: "pluck", channel: 6 })
    .lstm(#{ model: "chorales", part: "soprano", prime: [69, 72, 76], scale: "A minor",
             density: 0.9, seed: 7 });
voice("organ", #{ synth: "gm", program: 19, channel: 2 }).pattern("a3 c4 e4 a4");
"#;

struct Installed {
    _tmp: tempfile::TempDir,
    bin: std::path::PathBuf,
    home: std::path::PathBuf,
    cwd: std::path::PathBuf,
}

fn install() -> Installed {
    let tmp = tempfile::tempdir().unwrap();
    let bin_dir = tmp.path().join("bin");
    let home = tmp.path().join("home");
    let cwd = tmp.path().join("elsewhere");
    for d in [&bin_dir, &home, &cwd] {
        std::fs::create_dir_all(d).unwrap();
    }
    let bin = bin_dir.join("weft");
    std::fs::copy(env!("CARGO_BIN_EXE_weft"), &bin).unwrap();
    Installed {
        _tmp: tmp,
        bin,
        home,
        cwd,
    }
}

impl Installed {
    fn run(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .current_dir(&self.cwd)
            .env("HOME", &self.home)
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env_remove("WEFT_MODELS")
            .env_remove("WEFT_SAMPLES");
        for (k, v) in env {
            c.env(k, v);
        }
        // The copy's write descriptor can live on for a moment in a child that another test
        // thread forked while the copy was open (it closes at that child's exec); exec then
        // fails with ETXTBSY. Wait and retry, as Go's os/exec tests do.
        for _ in 0..100 {
            match c.output() {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                r => return r.unwrap(),
            }
        }
        panic!("{} stayed busy (ETXTBSY) for 2 s", self.bin.display())
    }
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn installed_binary_renders_lstm_and_gm_voices_from_anywhere() {
    let w = install();
    let jam = w.home.join("jam");
    std::fs::create_dir(&jam).unwrap();
    std::fs::write(jam.join("duo.rhai"), PATCH).unwrap();
    let patch = jam.join("duo.rhai");
    let o = w.run(
        &[
            "render",
            patch.to_str().unwrap(),
            "--bars",
            "4",
            "-o",
            "duo.mid",
            "--wav",
            "duo.wav",
        ],
        &[],
    );
    let all = text(&o);
    assert!(o.status.success(), "{all}");
    assert!(!all.contains("no SoundFont"), "{all}");
    assert!(!all.contains("not available"), "{all}");
    let midi = std::fs::read(w.cwd.join("duo.mid")).unwrap();
    let back = weft::record::smf::read(&midi, "duo.mid").unwrap();
    let count = |track: &str| back.notes.iter().filter(|n| n.track == track).count();
    assert!(
        count("duo.lead") >= 8,
        "LSTM notes: {}\n{all}",
        count("duo.lead")
    );
    assert_eq!(count("duo.organ"), 16, "{all}");
    // The data went to the XDG data folder, nowhere else.
    let data = w
        .home
        .join(".local/share/weft")
        .join(env!("CARGO_PKG_VERSION"));
    assert!(data.join("models/chorales/model.safetensors").is_file());
    assert!(data.join("samples/sf_GMbank.sf2").is_file());
    // The WAV has sound in it (the GM voice played the SoundFont, not silence).
    let wav = std::fs::read(w.cwd.join("duo.wav")).unwrap();
    assert!(wav.len() > 48_000 * 2 * 2, "{} bytes", wav.len());
}

#[test]
fn a_missing_model_says_where_weft_looked() {
    let w = install();
    let jam = w.home.join("jam");
    std::fs::create_dir(&jam).unwrap();
    let patch = jam.join("x.rhai");
    std::fs::write(&patch, PATCH.replace("\"chorales\"", "\"nosuch\"")).unwrap();
    let extra = w.home.join("mymodels");
    std::fs::create_dir(&extra).unwrap();
    let o = w.run(
        &["check", patch.to_str().unwrap()],
        &[("WEFT_MODELS", &extra)],
    );
    let all = text(&o);
    assert!(!o.status.success(), "{all}");
    assert!(all.contains("model 'nosuch' not found: looked in"), "{all}");
    // WEFT_MODELS is the first folder that exists here, then the installed data.
    assert!(
        all.contains(&extra.join("nosuch").display().to_string()),
        "{all}"
    );
    assert!(all.contains(".local/share/weft"), "{all}");
}

#[test]
fn a_patch_folder_with_its_own_models_and_samples_leaves_the_data_folder_alone() {
    let w = install();
    let repo = env!("CARGO_MANIFEST_DIR");
    let o = w.run(
        &[
            "render",
            &format!("{repo}/scripts/lead.rhai"),
            &format!("{repo}/scripts/chords.rhai"),
            "--bars",
            "2",
            "-o",
            "lead.mid",
            "--wav",
            "lead.wav",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !w.home.join(".local/share/weft").exists(),
        "the installed data was unpacked although the repo's models/ and samples/ were found"
    );
}
