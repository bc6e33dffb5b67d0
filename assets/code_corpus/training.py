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
from foundation.hardware import choose_preset, gpu_available
from foundation.model_store import ModelNotFound, ModelStore
from foundation.progress import keras_progress
from foundation.resources import StorageResource
from foundation.run_config import run_config_for
from foundation.storage.tfrecords import read_manifest
from models.code_corpus.config import (
    CPU_BUDGET_MINUTES,
    CPU_COMPARE_WITH,
    CPU_PRESET,
    GPU_COMPARE_WITH,
    GPU_PRESET,
    EvaluationSettings,
    TrainingPlan,
)

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


def resolve_plan(plan: TrainingPlan) -> tuple[list[str], float | None, str]:
    """The presets to train (the first is the plan's or the hardware's choice), the budget in seconds and why."""
    choice = choose_preset(plan.preset, CPU_PRESET, GPU_PRESET)
    gpu = gpu_available()
    compare_with = (
        plan.compare_with if plan.compare_with is not None else (GPU_COMPARE_WITH if gpu else CPU_COMPARE_WITH)
    )
    presets = [choice.preset, *(p for p in compare_with if p != choice.preset)]
    minutes = plan.budget_minutes if plan.budget_minutes is not None else (None if gpu else CPU_BUDGET_MINUTES)
    budget = 60 * minutes if minutes else None
    budget_reason = f"{minutes:g} minutes of training in all" if minutes else "no time budget"
    return presets, budget, f"{choice.reason}; candidates {presets}; {budget_reason}"


# Training for minutes (CPU) to hours (the full LSTM on a GPU): at most once a week, and only after a new corpus.
@dg.asset(group_name=GROUP, deps=[char_corpus], kinds={"keras"}, automation_condition=retrain(MODEL_CRON))
def char_rnn_model(
    context: dg.AssetExecutionContext, storage: StorageResource, config: CharRNNTraining
) -> dg.MaterializeResult:
    """The candidate character models trained on the train split, each checkpointed per epoch; the one with the
    fewest validation bits per character is published as the served model (`candidates/` keeps the others)."""
    from models.code_corpus.selection import train_candidates

    plan: TrainingPlan = config.to_dataclass()
    presets, budget, reason = resolve_plan(plan)
    context.log.info(f"char_rnn_model: {reason}")
    settings = plan.config(presets[0])
    train_uri = CHAR_CORPUS.uri(storage, "train")
    corpus_version = read_manifest(train_uri).metadata["source_table_version"]
    # Checkpoints per (configuration, corpus version), beside the published versions: a re-run resumes.
    work_root = storage.scratch_path("models", CHAR_RNN_MODEL, ".checkpoints", f"corpus-v{corpus_version}")
    progress = keras_progress(context.log, "char model", batch_size=settings.batch_size)
    store = storage.model_store(CHAR_RNN_MODEL)
    params = {**asdict(plan), "presets": presets, "budget_seconds": budget, "choice": reason}
    with store.publish(context.run_id, data_versions={SOURCE_FILES.name: corpus_version}, params=params) as draft:
        selection = train_candidates(
            presets,
            plan,
            train_uri,
            CHAR_CORPUS.uri(storage, "validation"),
            draft.path,
            Path(work_root),
            budget,
            callbacks=[progress],
        )
        run = selection.runs[selection.champion]
        draft.metrics = {k: v for k, v in (run.history[-1] if run.history else {}).items() if k != "epoch"} | {
            "champion": selection.champion,
            "validation_bits_per_char": selection.validation_bits(),
        }
    version = store.require()
    losses = {"train loss": [h["loss"] for h in run.history], "validation loss": [h["val_loss"] for h in run.history]}
    return dg.MaterializeResult(
        metadata={
            "model_path": dg.MetadataValue.path(str(store.path(version) / "model.keras")),
            "model_version": version,
            "preset": selection.champion,
            "preset_choice": reason,
            "champion": selection.champion,
            "validation_bits_per_char": dg.MetadataValue.json(selection.validation_bits()),
            "cpu_seconds": dg.MetadataValue.json(
                {
                    p: round(r.history[-1].get("cpu_seconds", 0.0), 1) if r.history else 0.0
                    for p, r in selection.runs.items()
                }
            ),
            "parameters": int(run.model.count_params()),
            "epochs": len(run.history),
            "resumed_from_epoch": run.resumed_from_epoch,
            "train_seconds": round(sum(r.seconds for r in selection.runs.values()), 1),
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
    from models.code_corpus.baselines import CharNGram
    from models.code_corpus.evaluation import candidates_table, compare, compare_on_windows
    from models.code_corpus.model import load, split_ids
    from models.code_corpus.selection import candidate_dirs

    settings: EvaluationSettings = config.to_dataclass()
    _, version, model_dir = published_model(storage)
    model, vocab, meta = load(model_dir)
    uris = {split: CHAR_CORPUS.uri(storage, split) for split in ("train", "validation", "test")}
    fitted = CharNGram(settings.ngram_order, vocab.size).fit(split_ids(uris["train"])[0])
    comparison = compare(model, vocab, uris["train"], uris["test"], settings, fitted=fitted)
    limit = settings.max_test_examples
    candidates = compare_on_windows(candidate_dirs(model_dir), fitted, uris, {"validation": limit, "test": limit})
    served = meta.get("champion", {}).get("preset", "model")
    table, scores, rows = comparison.table(), comparison.scores, comparison.rows
    champions = candidates_table(candidates)
    note = (
        f"served: {served}"
        + ("" if candidates.champion == served else f"; best on validation: {candidates.champion}")
        + (" (a baseline the completion page cannot serve)" if candidates.champion_is_baseline else "")
    )
    context.log.info("\n" + table + "\n\n" + champions + "\n" + note)
    return dg.MaterializeResult(
        metadata={
            "evaluation": dg.MetadataValue.md(table),
            "candidates": dg.MetadataValue.md(f"{champions}\n\n{note}"),
            "served": served,
            "validation_champion": candidates.champion,
            "comparison": dg.MetadataValue.json(candidates.to_json()),
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
