//! Checking a patch before it may play: the dry run (`weft check` and the reload path), the
//! [`StepSource`] for builds without models, and the list of functions a patch can reach.

use super::*;

impl Patch {
    /// Evaluates the next `bars` bars in memory (with the limits) on a copy of the state:
    /// what `weft check` and the reload path run before a patch may play.
    pub fn dry_run(
        path: &Path,
        src: &str,
        opts: LoadOptions,
        from_bar: u64,
        bars: u64,
        steps: &mut dyn StepSource,
    ) -> Result<(), PatchError> {
        let state = opts.state.as_ref().map(State::snapshot);
        let mut p = Patch::load(path, src, LoadOptions { state, ..opts })?;
        p.start()?;
        for b in from_bar..from_bar.saturating_add(bars) {
            p.plan_bar(b, steps)?;
        }
        Ok(())
    }
}

/// The signature of every function a patch can call (Rhai's packages included), sorted and
/// deduplicated: `tests/stage_patch.rs` holds this list to a committed allow-list, so a Rhai
/// upgrade or a new registration cannot make a blocking function reachable unnoticed.
pub fn engine_functions() -> Vec<String> {
    let p = Patch::load(Path::new("functions.rhai"), "", LoadOptions::default())
        .expect("the empty patch loads");
    let mut v = p.engine.gen_fn_signatures(true);
    v.sort();
    v.dedup();
    v
}

/// A [`StepSource`] for patches without LSTM voices or where no model is available: it
/// reports the LSTM voice as an error so the patch is rejected with a clear message.
pub struct NoModels;

impl StepSource for NoModels {
    fn steps(
        &mut self,
        _file: &str,
        _v: &VoiceSpec,
        spec: &LstmSpec,
        _n: usize,
    ) -> Result<Vec<Option<(u8, u32)>>, String> {
        Err(format!(
            "model '{}' is not available in this build",
            spec.model
        ))
    }
}

/// Checks a patch file: compile, evaluate, and dry-run `bars` bars. What the top level and
/// `on_start` print goes to stderr as `path:line: text`, as `play` and `render` show it; the
/// error, if any, is printed by the caller as `path:line:col: message`.
pub fn check_file(path: &Path, bars: u64, steps: &mut dyn StepSource) -> Result<(), PatchError> {
    check_file_with(path, bars, steps, &mut |place, text| {
        eprintln!("{place}: {text}")
    })
}

/// [`check_file`], handing each top-level / `on_start` print to `printed(place, text)` (place =
/// `path:line`), in order, before the dry run of the bars.
pub fn check_file_with(
    path: &Path,
    bars: u64,
    steps: &mut dyn StepSource,
    printed: &mut dyn FnMut(&str, &str),
) -> Result<(), PatchError> {
    check_file_in(path, bars, None, steps, printed)
}

/// [`check_file_with`] with `--samples DIR` (`samples`), searched after the patch folder for
/// `samples("path")` and sample folders, as `weft play` and `weft render` search it.
pub fn check_file_in(
    path: &Path,
    bars: u64,
    samples: Option<&Path>,
    steps: &mut dyn StepSource,
    printed: &mut dyn FnMut(&str, &str),
) -> Result<(), PatchError> {
    let src = std::fs::read_to_string(path).map_err(|e| PatchError {
        path: path.display().to_string(),
        line: 0,
        col: 0,
        message: format!("cannot read: {e}"),
    })?;
    let opts = LoadOptions {
        samples: samples.map(Path::to_path_buf),
        ..LoadOptions::default()
    };
    let mut p = Patch::load(path, &src, opts);
    if let Ok(p) = &mut p {
        let started = p.start();
        for (line, text) in p.take_prints() {
            printed(&p.place(line), &text);
        }
        started?;
    }
    let mut p = p?;
    for b in 0..bars {
        p.plan_bar(b, steps)?;
    }
    Ok(())
}
