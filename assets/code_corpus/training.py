"""The char-LSTM: trained on the corpus and published to the model store, evaluated next to baselines,
and sampled on fixed prompts. The work is in models/code_corpus/; these assets read, call, publish, report."""

import json
from dataclasses import asdict
from pathlib import Path

import dagster as dg

from assets.code_corpus.automation import MODEL_CRON
from assets.code_corpus.corpus import char_corpus
from assets.code_corpus.partitions import GROUP
from assets.code_corpus.tables import CHAR_CORPUS, CHAR_RNN_MODEL, SOURCE_FILES
from foundation.automation import derived_table, retrain
from foundation.charts import bar_chart_png, line_chart_png, markdown_image
from foundation.model_store import ModelNotFound, ModelStore
from foundation.progress import keras_progress
from foundation.resources import StorageResource
from foundation.run_config import run_config_for
from foundation.storage.tfrecords import read_manifest
from models.code_corpus.config import EvaluationSettings, TrainingPlan

CharRNNTraining = run_config_for(TrainingPlan, "CharRNNTraining")
CharRNNEvaluation = run_config_for(EvaluationSettings, "CharRNNEvaluation")


def published_model(storage: StorageResource) -> tuple[ModelStore, str, Path]:
    """The char-LSTM store, its latest version and that version's local folder; a failure before any training."""
    store = storage.model_store(CHAR_RNN_MODEL)
    try:
        version = store.require()
    except ModelNotFound as err:
        raise dg.Failure(
            description=f"no char_rnn model trained yet: {err}", metadata={"model_store": store.uri}
        ) from err
    return store, version, store.path(version)


# Hours of LSTM training: at most once a week, and only after a new corpus.
@dg.asset(group_name=GROUP, deps=[char_corpus], kinds={"keras"}, automation_condition=retrain(MODEL_CRON))
def char_rnn_model(
    context: dg.AssetExecutionContext, storage: StorageResource, config: CharRNNTraining
) -> dg.MaterializeResult:
    """The LSTM trained on the train split, validated on the validation split, checkpointed per epoch."""
    from models.code_corpus.model import train

    plan: TrainingPlan = config.to_dataclass()
    settings = plan.config()
    train_uri = CHAR_CORPUS.uri(storage, "train")
    corpus_version = read_manifest(train_uri).metadata["source_table_version"]
    # Checkpoints per (configuration, corpus version), beside the published versions: a re-run resumes.
    work_dir = storage.local_path("models", CHAR_RNN_MODEL, ".checkpoints", f"{plan.preset}-corpus-v{corpus_version}")
    progress = keras_progress(context.log, "char LSTM", batch_size=settings.batch_size)
    store = storage.model_store(CHAR_RNN_MODEL)
    params = {**asdict(plan), "config": asdict(settings)}
    with store.publish(context.run_id, data_versions={SOURCE_FILES.name: corpus_version}, params=params) as draft:
        run = train(
            settings,
            train_uri,
            CHAR_CORPUS.uri(storage, "validation"),
            draft.path,
            max_validation_examples=plan.max_validation_examples,
            callbacks=[progress],
            work_dir=work_dir,
        )
        draft.metrics = {k: v for k, v in (run.history[-1] if run.history else {}).items() if k != "epoch"}
    version = store.require()
    losses = {"train loss": [h["loss"] for h in run.history], "validation loss": [h["val_loss"] for h in run.history]}
    return dg.MaterializeResult(
        metadata={
            "model_path": dg.MetadataValue.path(str(store.path(version) / "model.keras")),
            "model_version": version,
            "preset": plan.preset,
            "parameters": int(run.model.count_params()),
            "epochs": len(run.history),
            "resumed_from_epoch": run.resumed_from_epoch,
            "train_seconds": round(run.seconds, 1),
            "characters_per_second": round(run.characters_per_second),
            "loss_per_epoch": dg.MetadataValue.json(run.history),
            "loss_plot": dg.MetadataValue.md(
                markdown_image(line_chart_png(losses), "loss per epoch (nats/char)", "**loss per epoch (nats/char)**")
            ),
            "corpus_table_version": corpus_version,
        }
    )


@dg.asset(group_name=GROUP, deps=[char_rnn_model], kinds={"keras"}, automation_condition=derived_table())
def char_rnn_evaluation(
    context: dg.AssetExecutionContext, storage: StorageResource, config: CharRNNEvaluation
) -> dg.MaterializeResult:
    """The model on the repository-held-out test split, next to unigram, n-gram and compressor baselines."""
    from models.code_corpus.evaluation import compare
    from models.code_corpus.model import load

    _, version, model_dir = published_model(storage)
    model, vocab, _ = load(model_dir)
    comparison = compare(
        model, vocab, CHAR_CORPUS.uri(storage, "train"), CHAR_CORPUS.uri(storage, "test"), config.to_dataclass()
    )
    table, scores, rows = comparison.table(), comparison.scores, comparison.rows
    context.log.info("\n" + table)
    return dg.MaterializeResult(
        metadata={
            "evaluation": dg.MetadataValue.md(table),
            "model_version": version,
            "test_characters": scores.characters,
            "nats_per_char": round(scores.nats_per_char, 4),
            "bits_per_char": round(scores.bits_per_char, 4),
            "top1": round(scores.top1, 4),
            "top5": round(scores.top5, 4),
            "baselines_bits_per_char": dg.MetadataValue.json(
                {r.predictor: round(r.bits_per_char, 4) for r in rows[1:]}
            ),
            "bpc_plot": dg.MetadataValue.md(
                markdown_image(
                    bar_chart_png({r.predictor[:24]: round(r.bits_per_char, 3) for r in rows}),
                    "bits per character (lower is better)",
                    "**bits per character (lower is better)**",
                )
            ),
        }
    )


@dg.asset(group_name=GROUP, deps=[char_rnn_model], kinds={"keras"}, automation_condition=derived_table())
def code_completions(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
    """Greedy completions of fixed prompts (what the completion page would show), kept for comparison."""
    from models.code_corpus.completion import sample_completions
    from models.code_corpus.model import load

    store, version, model_dir = published_model(storage)
    model, vocab, _ = load(model_dir)
    samples = sample_completions(model, vocab)
    store.add_file(version, "completions.json", json.dumps(samples, indent=1))
    text = "\n\n".join(f"```python\n{s['prompt']}⟨{s['completion']}⟩\n```" for s in samples)
    return dg.MaterializeResult(
        metadata={
            "completions": dg.MetadataValue.md(text),
            "prompts": len(samples),
            "model_path": dg.MetadataValue.path(str(model_dir)),
            "model_version": version,
        }
    )
