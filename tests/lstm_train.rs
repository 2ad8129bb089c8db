//! Trains a tiny network for a few steps on the fixture corpus, end to end through the
//! `weft train` code path: corpus → split → train → save → load → evaluate → MODEL.md.

use std::path::PathBuf;
use weft::cli::train::{run, TrainArgs};
use weft::neural::data::Corpus;
use weft::neural::train::{train, TrainOptions};
use weft::neural::{Controls, Generator, Model, Step};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/midi")
}

fn tiny_options() -> TrainOptions {
    TrainOptions {
        embed: 8,
        hidden: 24,
        layers: 2,
        dropout: 0.1,
        lr: 1e-2,
        batch: 4,
        seq_len: 16,
        max_epochs: 4,
        patience: 4,
        steps_per_epoch: 8,
        max_minutes: 2.0,
        ..TrainOptions::default()
    }
}

#[test]
fn a_few_steps_on_the_fixtures_lower_the_loss_and_are_seeded() {
    let corpus = Corpus::load_dir(&fixture_dir()).unwrap();
    assert!(!corpus.train.is_empty() && !corpus.valid.is_empty() && !corpus.test.is_empty());
    let (net, report) = train(&corpus, &tiny_options(), false).unwrap();
    assert_eq!(report.epochs_run, 4);
    assert_eq!(report.steps, 32);
    let first = report.train_loss[0];
    let last = *report.train_loss.last().unwrap();
    assert!(first.is_finite() && last.is_finite());
    assert!(
        last < first,
        "train loss did not fall: {:?}",
        report.train_loss
    );
    // Uniform guessing over the vocabulary would be ln(79) ≈ 4.37 nats.
    assert!(report.best_valid_nll < 4.3, "{report:?}");

    // Same seed → same weights.
    let (net2, _) = train(&corpus, &tiny_options(), false).unwrap();
    let w = |n: &weft::neural::model::Net| {
        n.tensors()["lstm.1.weight_hh"]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(w(&net), w(&net2));
}

#[test]
fn weft_train_writes_a_loadable_model_and_eval_only_rewrites_the_card() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("tiny");
    let o = tiny_options();
    let mut args = TrainArgs {
        midi: fixture_dir(),
        out: dir.clone(),
        eval_only: false,
        embed: o.embed,
        hidden: o.hidden,
        layers: o.layers,
        dropout: o.dropout,
        lr: o.lr,
        batch: o.batch,
        seq_len: o.seq_len,
        epochs: 2,
        patience: 2,
        steps_per_epoch: 4,
        max_minutes: 2.0,
        seed: 3,
        threads: 1,
        quiet: true,
    };
    let report = run(&args).unwrap();
    // LSTM + 5 orders × (add-k, Witten–Bell).
    assert_eq!(report.test.len(), 11);
    assert!(report
        .test
        .iter()
        .all(|m| m.nll.is_finite() && m.events == report.test_events));
    let card = std::fs::read_to_string(dir.join("MODEL.md")).unwrap();
    assert!(card.contains("| LSTM 2×24 |"), "{card}");
    assert!(card.contains("Markov-5 interpolated Witten–Bell"));

    let model = Model::load(&dir).unwrap();
    assert_eq!(model.name(), "tiny");
    let hash = model.weights_hash();
    let mut g = Generator::new(
        model,
        Controls {
            seed: 1,
            ..Controls::default()
        },
    );
    let steps: Vec<Step> = (0..64).map(|_| g.step()).collect();
    assert_eq!(steps.len(), 64);

    // --eval-only reproduces the same figures from the saved files without retraining.
    args.eval_only = true;
    let again = run(&args).unwrap();
    assert_eq!(again.test, report.test);
    assert_eq!(Model::load(&dir).unwrap().weights_hash(), hash);
}
