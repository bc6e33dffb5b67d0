"""Several character-model configurations trained on the same corpus, and the champion the page serves.

Each candidate preset is trained within its share of the CPU budget; every candidate is scored per window on the
validation split (the repositories of neither training nor test) and the one with the fewest bits per character
is the champion: its files go to the top of the model folder, which is what serving, evaluation and the sample
completions load. The others stay under `candidates/<preset>/` for the evaluation's comparison.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foundation.model_selection import Comparison, compare_candidates
from models.code_corpus.config import TrainingPlan
from models.code_corpus.model import TrainingRun, train, window_bits

CANDIDATES_DIR = "candidates"
MODEL_FILES = ("model.keras", "vocabulary.json", "meta.json")
METRIC = "neg_bits_per_char"  # compare_candidates maximises


@dataclass
class Selection:
    champion: str
    comparison: Comparison  # validation only
    runs: dict[str, TrainingRun]

    def validation_bits(self) -> dict[str, float]:
        return validation_bits(self.comparison)


def train_candidates(
    presets: Sequence[str],
    plan: TrainingPlan,
    train_uri: str,
    validation_uri: str,
    out_dir: Path,
    work_root: Path,
    budget_seconds: float | None,
    callbacks: Sequence = (),
) -> Selection:
    """Train every preset (an equal share of `budget_seconds` each), keep the validation champion at `out_dir`."""
    runs, per_query = {}, {}
    share = budget_seconds / len(presets) if budget_seconds else None
    for preset in presets:
        folder = out_dir / CANDIDATES_DIR / preset
        runs[preset] = train(
            plan.config(preset),
            train_uri,
            validation_uri,
            folder,
            max_validation_examples=plan.max_validation_examples,
            time_budget_seconds=share,
            callbacks=callbacks,
            work_dir=work_root / preset,
        )
        bits = window_bits(runs[preset].model, validation_uri, max_examples=plan.max_validation_examples)
        per_query[preset] = {"validation": {METRIC: -bits}}
    comparison = compare_candidates(per_query, METRIC, settings={"presets": list(presets)})
    for name in MODEL_FILES:
        shutil.copy2(out_dir / CANDIDATES_DIR / comparison.champion / name, out_dir / name)
    meta = json.loads((out_dir / "meta.json").read_text())
    meta["champion"] = {"preset": comparison.champion, "validation_bits_per_char": validation_bits(comparison)}
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    return Selection(comparison.champion, comparison, runs)


def candidate_dirs(model_dir: Path) -> dict[str, Path]:
    """preset -> folder of every candidate saved with a model version (just the model itself for older ones)."""
    root = Path(model_dir) / CANDIDATES_DIR
    found = {p.name: p for p in sorted(root.iterdir()) if (p / "model.keras").exists()} if root.exists() else {}
    return found or {"model": Path(model_dir)}


def validation_bits(comparison: Comparison) -> dict[str, float]:
    """candidate -> mean validation bits per character."""
    return {c: round(-v[METRIC].mean, 4) for c, v in comparison.validation.items()}
