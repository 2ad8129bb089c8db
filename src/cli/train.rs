//! `weft train`: the command-line edge of the LSTM stage.
//!
//! `--midi DIR` → `data::Corpus` (split by file-name hash) → `train::train` → writes
//! `OUT/model.safetensors` + `OUT/config.json` → `eval::evaluate` on the test split →
//! prints the table and writes `OUT/MODEL.md`. With `--eval-only` the saved model in `OUT`
//! is loaded instead of trained, and `MODEL.md` is rewritten with fresh figures.

use crate::neural::data::Corpus;
use crate::neural::eval::{evaluate, EvalReport};
use crate::neural::infer::{Model, SavedConfig, CONFIG_FILE, REPRESENTATION, WEIGHTS_FILE};
use crate::neural::model::Net;
use crate::neural::train::{train, TrainOptions};
use crate::neural::{LstmError, Result};
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Folder of .mid files (e.g. target/corpus/bach from `make corpus`).
    #[arg(long)]
    pub midi: PathBuf,
    /// Model folder to write (or read with --eval-only), e.g. models/chorales.
    #[arg(short = 'o', long)]
    pub out: PathBuf,
    /// Do not train: evaluate the model in OUT and rewrite its MODEL.md.
    #[arg(long)]
    pub eval_only: bool,
    /// Embedding size per token, 1..=4096.
    #[arg(long, default_value_t = 48, value_parser = crate::bounds::in_range::<1, 4096>)]
    pub embed: usize,
    /// LSTM hidden size, 1..=4096.
    #[arg(long, default_value_t = 128, value_parser = crate::bounds::in_range::<1, 4096>)]
    pub hidden: usize,
    /// Stacked LSTM layers, 1..=8.
    #[arg(long, default_value_t = 2, value_parser = crate::bounds::in_range::<1, 8>)]
    pub layers: usize,
    /// Dropout between layers, 0 ≤ p < 1.
    #[arg(long, default_value_t = 0.1, value_parser = crate::bounds::dropout)]
    pub dropout: f32,
    /// Initial learning rate (Adam), 0 < lr ≤ 10; halved when validation stops improving.
    #[arg(long, default_value_t = 3e-3, value_parser = crate::bounds::learning_rate)]
    pub lr: f64,
    /// Sequences per batch, 1..=4096.
    #[arg(long, default_value_t = 32, value_parser = crate::bounds::in_range::<1, 4096>)]
    pub batch: usize,
    /// Tokens per training sequence, 1..=8192.
    #[arg(long, default_value_t = 64, value_parser = crate::bounds::in_range::<1, 8192>)]
    pub seq_len: usize,
    /// Most epochs to run, 1..=100000 (early stopping usually ends sooner).
    #[arg(long, default_value_t = 100, value_parser = crate::bounds::in_range::<1, 100000>)]
    pub epochs: usize,
    /// Epochs without validation improvement before training stops.
    #[arg(long, default_value_t = 4)]
    pub patience: usize,
    /// Batches per epoch (0 = one pass over the training tokens).
    #[arg(long, default_value_t = 0)]
    pub steps_per_epoch: usize,
    /// Wall-clock budget in minutes; the best weights so far are kept.
    #[arg(long, default_value_t = 28.0)]
    pub max_minutes: f64,
    /// CPU threads for the network's matrix products (applied by the `weft` binary before
    /// anything starts). One is the default: at this model size two threads on a 2-core
    /// machine were slower (2,970 vs 4,769 tokens/s).
    #[arg(long, default_value_t = 1, value_parser = crate::bounds::in_range::<1, 256>)]
    pub threads: usize,
    /// Seed for initialisation, batch order and dropout: same seed, same model.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    pub fn options(&self) -> TrainOptions {
        TrainOptions {
            embed: self.embed,
            hidden: self.hidden,
            layers: self.layers,
            dropout: self.dropout,
            lr: self.lr,
            batch: self.batch,
            seq_len: self.seq_len,
            max_epochs: self.epochs,
            patience: self.patience,
            steps_per_epoch: self.steps_per_epoch,
            max_minutes: self.max_minutes,
            seed: self.seed,
            ..TrainOptions::default()
        }
    }
}

fn model_name(out: &Path) -> String {
    out.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

fn write(path: &Path, contents: &[u8]) -> Result<()> {
    std::fs::write(path, contents).map_err(|cause| LstmError::Io {
        path: path.into(),
        cause,
    })
}

/// Runs `weft train`. Progress goes to stderr, the evaluation table to stdout.
pub fn run(args: &TrainArgs) -> Result<EvalReport> {
    let corpus = Corpus::load_dir(&args.midi)?;
    eprintln!(
        "corpus {}: {} train / {} valid / {} test pieces ({} / {} / {} events), {} unreadable",
        args.midi.display(),
        corpus.train.len(),
        corpus.valid.len(),
        corpus.test.len(),
        Corpus::events(&corpus.train),
        Corpus::events(&corpus.valid),
        Corpus::events(&corpus.test),
        corpus.skipped.len()
    );
    for s in &corpus.skipped {
        eprintln!("  skipped {s}");
    }
    if !args.eval_only {
        let (net, report) = train(&corpus, &args.options(), !args.quiet)?;
        std::fs::create_dir_all(&args.out).map_err(|cause| LstmError::Io {
            path: args.out.clone(),
            cause,
        })?;
        net.save(&args.out.join(WEIGHTS_FILE))?;
        let saved = SavedConfig {
            name: model_name(&args.out),
            representation: REPRESENTATION.into(),
            model: net.cfg.clone(),
            training: Some(report),
        };
        let json = serde_json::to_string_pretty(&saved).expect("plain data serialises");
        write(&args.out.join(CONFIG_FILE), json.as_bytes())?;
    }
    let model = Model::load(&args.out)?;
    let net = Net::load(model.cfg.clone(), &args.out.join(WEIGHTS_FILE))?;
    let report = evaluate(&net, &corpus, |what| eprintln!("evaluating {what} …"))?;
    println!("{}", report.table());
    println!("{}", verdict(&report));
    let card = model_card(&model, &corpus, &report, &args.midi);
    write(&args.out.join("MODEL.md"), card.as_bytes())?;
    eprintln!("wrote {}", args.out.join("MODEL.md").display());
    Ok(report)
}

/// One honest sentence comparing the LSTM with the best baseline (chosen on validation).
pub fn verdict(r: &EvalReport) -> String {
    let lstm = &r.test[0];
    match r.best_baseline() {
        Some((_, best)) if lstm.nll < best.nll => format!(
            "The LSTM beats the best Markov baseline ({}) on test NLL: {:.4} vs {:.4} nats/event ({:.1}% lower).",
            best.name,
            lstm.nll,
            best.nll,
            100.0 * (1.0 - lstm.nll / best.nll)
        ),
        Some((_, best)) => format!(
            "The LSTM does NOT beat the best Markov baseline ({}) on test NLL: {:.4} vs {:.4} nats/event.",
            best.name, lstm.nll, best.nll
        ),
        None => "No baseline was evaluated.".into(),
    }
}

fn model_card(model: &Model, corpus: &Corpus, r: &EvalReport, midi: &Path) -> String {
    let cfg = &model.cfg;
    let mut s = format!("# Model card: `{}`\n\n", model.name());
    s += &format!(
        "Note LSTM for weft's `.lstm(...)` voices. Weights `model.safetensors` (FNV-1a 64 of the file: `{}`), \
         sizes and training record in `config.json`. Generated by `weft train`; the evaluation table below is \
         rewritten by `weft train --midi {} -o models/{} --eval-only`.\n\n",
        model.weights_hash(),
        midi.display(),
        model.name()
    );
    s += "## Data and licence\n\n\
        The Bach chorales bundled with the music21 package (the `.mxl`/`.xml` files of `music21/corpus/bach/`, \
        converted to MIDI by `tools/corpus/fetch_bach.sh`; the three Humdrum `.krn` files are skipped). The \
        compositions are in the public domain; the encodings are redistributed by music21 with their encoders' \
        permission, so this repository ships only these weights and the conversion script — not the corpus. \
        See `samples/CORPUS.md`.\n\n";
    s += &format!(
        "Split by piece, by FNV-1a 64 of the file name modulo 10 (0–7 train, 8 validation, 9 test): \
         {} / {} / {} pieces, {} / {} / {} events (one event = one voice's 16th step).\n\n",
        corpus.train.len(),
        corpus.valid.len(),
        corpus.test.len(),
        r.train_events,
        r.valid_events,
        r.test_events
    );
    s += &format!(
        "## Representation\n\n`{REPRESENTATION}` (see `models/README.md`): one token per voice per 16th note — \
         `Note(p)` for p in MIDI 24–96, `hold`, `rest` — after a part token `<S>`/`<A>`/`<T>`/`<B>`; pieces \
         transposed to the white-key collection (C major / A minor). Vocabulary {} tokens.\n\n",
        cfg.vocab
    );
    s += &format!(
        "## Network\n\nembedding {} → {} × LSTM {} → linear {} ({} parameters, {:.2} MB as f32).\n\n",
        cfg.embed,
        cfg.layers,
        cfg.hidden,
        cfg.vocab,
        cfg.parameter_count(),
        cfg.parameter_count() as f64 * 4.0 / 1e6
    );
    if let Some(t) = model.saved_config().and_then(|c| c.training.as_ref()) {
        let o = &t.options;
        s += &format!(
            "## Training\n\nAdamW (lr {}, weight decay {}, halved on each epoch without validation improvement), \
             gradient-norm clip {}, dropout {}, batch {} × {} steps, seed {}. {} epochs run ({} steps, {} tokens), \
             best epoch {} (validation NLL {:.4}); stopped: {}. Wall time {:.1} min on {} thread(s), {:.0} tokens/s.\n\n",
            o.lr,
            o.weight_decay,
            o.clip,
            o.dropout,
            o.batch,
            o.seq_len,
            o.seed,
            t.epochs_run,
            t.steps,
            t.tokens_seen,
            t.best_epoch,
            t.best_valid_nll,
            t.stopped_because,
            t.wall_secs / 60.0,
            t.threads,
            t.tokens_per_sec
        );
        s += "| epoch | train loss | valid NLL |\n|---:|---:|---:|\n";
        for (i, (a, b)) in t.train_loss.iter().zip(&t.valid_nll).enumerate() {
            s += &format!("| {} | {:.4} | {:.4} |\n", i + 1, a, b);
        }
        s += "\n";
    }
    s += "## Evaluation (test split)\n\nNext-event negative log-likelihood per event, perplexity, top-1/top-5 \
          accuracy, on exactly the same token lines for every model (each line scored from its part token). \
          Markov models are fitted on the train split; each add-k constant was chosen on the validation split \
          (last column), never on test.\n\n";
    s += &r.table();
    s += &format!("\n{}\n", verdict(r));
    s
}
