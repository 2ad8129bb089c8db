//! The compile worker: turns settled file changes from the watcher into patches the
//! scheduler thread can install ([`SchedMsg::Ready`]) or located errors
//! ([`SchedMsg::Rejected`]). Each save is dry-run first (the next bars, with the limits, on a
//! copy of the file's `state`), then loaded for real against the live `state`; the playing
//! version is untouched either way. It ends when the watcher's change stream closes (the
//! watcher was stopped) or the scheduler thread's inbox is gone.

use super::{SchedMsg, StepFactory};
use crate::engine::live::Report;
use crate::engine::render::file_name;
use crate::engine::scheduler::Notice;
use crate::engine::watch::{scan, FileChange};
use crate::patch::{LoadOptions, Patch, PatchError, State};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

/// What the compile worker needs besides its channels.
pub(super) struct CompileSetup {
    /// The canonical patch folder (startup files are read from it).
    pub dir: PathBuf,
    pub seed: u64,
    /// Bars dry-run before a patch may play.
    pub bars: u64,
    /// The bar the scheduler thread has reached (dry runs start at the next one).
    pub current_bar: Arc<AtomicU64>,
    pub models_dir: Option<PathBuf>,
    pub steps: StepFactory,
    /// `--samples DIR` for the patches' sample lookups.
    pub samples: Option<PathBuf>,
    /// Where new sample banks go to the running synth (see `sound::synth::BankSwap`).
    pub bank_swap: Option<crate::sound::synth::BankSwap>,
}

/// Starts the compile worker thread. A panic outside the guarded loads is reported as
/// [`Report::Died`] (the music plays on; saves no longer load).
pub(super) fn spawn(
    setup: CompileSetup,
    changes: Receiver<FileChange>,
    tx: Sender<SchedMsg>,
    reports: Sender<Report>,
) -> JoinHandle<()> {
    thread::Builder::new()
        .name("weft-compile".into())
        .spawn(move || {
            // Each load is guarded inside; this catches the rest of the loop, so a dying
            // worker is reported instead of silently ending every later reload.
            let died = reports.clone();
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                compile_worker(setup, changes, tx, reports)
            }));
            if let Err(p) = ran {
                let _ = died.send(Report::Died {
                    thread: "compile worker".into(),
                    message: crate::fault::panic_message(&*p),
                    music_stopped: false,
                });
            }
        })
        .expect("spawn compile worker")
}

fn compile_worker(
    setup: CompileSetup,
    changes: Receiver<FileChange>,
    tx: Sender<SchedMsg>,
    reports: Sender<Report>,
) {
    let CompileSetup {
        dir,
        seed,
        bars,
        current_bar,
        models_dir,
        steps,
        samples,
        bank_swap,
    } = setup;
    let mut states: HashMap<String, State> = HashMap::new();
    let mut steps = steps();
    let mut load = |path: &Path,
                    src: &str,
                    first_event: Option<Instant>,
                    states: &mut HashMap<String, State>| {
        let file = file_name(path);
        let is_new = !states.contains_key(&file);
        let state = states.entry(file.clone()).or_default().clone();
        let opts = LoadOptions {
            seed,
            limits: Default::default(),
            state: Some(state),
            // The same lookup as `weft check` and `weft render`: patch folder, parent,
            // `--samples`, WEFT_SAMPLES, current folder.
            samples: samples.clone(),
        };
        let from = current_bar.load(Ordering::Relaxed) + 1;
        // A panic while loading is a bug in weft; it rejects this save like an error would
        // (the last good version keeps playing) instead of killing the worker, after which no
        // save would ever load again.
        let loaded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::fault::compile_file(&file);
            Patch::dry_run(path, src, opts.clone(), from, bars, steps.as_mut())
                .and_then(|_| Patch::load(path, src, opts))
                .and_then(|mut p| {
                    if is_new {
                        p.start()?;
                    }
                    Ok(p)
                })
                .and_then(|p| {
                    if let Some(swap) = &bank_swap {
                        hand_banks_to_synth(&p, swap, path, &reports)?;
                    }
                    Ok(p)
                })
        }));
        let result = loaded.unwrap_or_else(|p| {
            Err(PatchError {
                path: path.display().to_string(),
                line: 0,
                col: 0,
                message: format!(
                    "internal error while loading ({}); please report it",
                    crate::fault::panic_message(&*p)
                ),
            })
        });
        let msg = match result {
            Ok(patch) => SchedMsg::Ready {
                models: match &models_dir {
                    Some(d) => {
                        let names = crate::neural::voices::models_of(&patch);
                        let lines = crate::neural::voices::model_provenance(d, &names);
                        names.into_iter().zip(lines).collect()
                    }
                    None => Vec::new(),
                },
                file,
                patch: Box::new(patch),
                first_event,
            },
            Err(e) => {
                if is_new {
                    // Keep no state for a file that never played.
                    states.remove(&file_name(path));
                }
                // A rejected save may have allocated up to its budget (hundreds of MB) before
                // it was stopped; it is all freed now, so hand it back to the system.
                crate::alloc_meter::give_back_freed_memory();
                SchedMsg::Rejected(e)
            }
        };
        tx.send(msg).is_ok()
    };
    for path in scan(&dir).unwrap_or_default() {
        match std::fs::read_to_string(&path) {
            Ok(src) => {
                if !load(&path, &src, None, &mut states) {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(SchedMsg::Rejected(PatchError {
                    path: path.display().to_string(),
                    line: 0,
                    col: 0,
                    message: format!("cannot read: {e}"),
                }));
            }
        }
    }
    if tx.send(SchedMsg::InitialDone).is_err() {
        return;
    }
    while let Ok(change) = changes.recv() {
        let ok = match change {
            FileChange::Changed {
                path,
                source,
                first_event,
            } => {
                crate::fault::compile_worker_change(&file_name(&path));
                load(&path, &source, Some(first_event), &mut states)
            }
            FileChange::Removed { path } => {
                let f = file_name(&path);
                states.remove(&f);
                tx.send(SchedMsg::Removed(f)).is_ok()
            }
            FileChange::Renamed { from, to } => {
                let (f, t) = (file_name(&from), file_name(&to));
                if let Some(s) = states.remove(&f) {
                    states.insert(t.clone(), s);
                }
                tx.send(SchedMsg::Renamed(f, t)).is_ok()
            }
            FileChange::FolderGone { dir } => folder_notice(
                &reports,
                &dir,
                "patch folder gone; the last patches keep playing (watching for it to come back)",
            ),
            FileChange::FolderBack { dir } => {
                folder_notice(&reports, &dir, "patch folder back; watching again")
            }
        };
        if !ok {
            return;
        }
    }
}

/// Loads the sample banks `patch` uses that the running synth does not hold yet (here, off
/// the audio thread) and sends them to it; the patch's notes then carry each bank's
/// generation, so the swap happens with the first note of this version. A bank that cannot
/// be loaded rejects the save (the playing version keeps its bank); files that do not decode
/// are reported and play silence.
fn hand_banks_to_synth(
    patch: &Patch,
    swap: &crate::sound::synth::BankSwap,
    path: &Path,
    reports: &Sender<Report>,
) -> Result<(), PatchError> {
    for bank in patch.sample_banks() {
        let mut warnings = Vec::new();
        let bound = swap.bind(&bank.dir, &bank.folders, &mut warnings);
        for w in warnings {
            let _ = reports.send(Report::Notice(Notice::Print {
                file: crate::patch::shown_path(&path.display().to_string()),
                line: w,
            }));
        }
        match bound {
            Ok(Some(gen)) => {
                // Set once: a bank index belongs to this one load.
                let _ = bank.gen.set(gen);
            }
            Ok(None) => {}
            Err(e) => {
                // At the `samples("…")` call that named the bank, when one did.
                let (line, col) = bank.at.unwrap_or((0, 0));
                return Err(PatchError {
                    path: path.display().to_string(),
                    line,
                    col,
                    message: format!("sample bank {}: {e}", bank.dir.display()),
                });
            }
        }
    }
    Ok(())
}

/// Tells the performer what happened to the patch folder itself. The report channel may be
/// gone while the scheduler stops; that is no reason to stop compiling.
fn folder_notice(reports: &Sender<Report>, dir: &Path, what: &str) -> bool {
    let _ = reports.send(Report::Notice(Notice::Print {
        file: crate::patch::shown_path(&dir.display().to_string()),
        line: what.to_string(),
    }));
    true
}
