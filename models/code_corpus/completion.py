"""Code completion with a trained char-RNN: greedy or sampled, stopping at the end of a line or block.

Each step runs the model over the last `context_chars` characters (stateless; simple and exact
for models trained on windows of that order) and picks the next character: the most likely one
at temperature 0 (deterministic), otherwise a draw from the top-k of the tempered distribution
with a seeded generator (reproducible).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from models.code_corpus.model import context_limit
from models.code_corpus.vocab import CharVocabulary

Stop = Literal["line", "block", "none"]

# Fixed prompts whose greedy completions are kept with every model, for comparison across versions.
SAMPLE_PROMPTS = (
    "import os\n\ndef ",
    "class Config:\n    def __init__(self",
    "    for i in range(",
    "if __name__ == ",
    "    return ",
)


@dataclass(frozen=True)
class CompletionRequest:
    prompt: str
    max_chars: int = 80
    temperature: float = 0.0
    top_k: int | None = None
    stop: Stop = "line"
    seed: int = 0
    context_chars: int = 200


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _should_stop(prompt: str, generated: str, stop: Stop) -> bool:
    if stop == "none" or not generated:
        return False
    if stop == "line":
        # The end of the first line with something on it: after a complete line (`with open(p) as f:`) the
        # next character is a newline, and stopping there would propose nothing; the next line is the proposal.
        return generated.endswith("\n") and bool(generated.strip())
    # block: a blank line, or a new non-blank line indented less than the line the prompt ended on
    if generated.endswith("\n\n"):
        return True
    lines = (prompt + generated).split("\n")
    if len(lines) < 2 or "\n" not in generated:
        return False
    start_line = prompt.split("\n")[-1] or (prompt.split("\n")[-2] if prompt.count("\n") else "")
    current = lines[-1]
    return bool(current.strip()) and _indent(current) < _indent(start_line) and current[-1:] not in (" ", "\t")


_STEP_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _next_logits(model: keras.Model) -> Callable[[np.ndarray], tf.Tensor]:
    """A traced function (one graph for every prompt length) returning the last position's logits."""
    if model not in _STEP_FUNCTIONS:
        _STEP_FUNCTIONS[model] = tf.function(
            lambda x: model(x, training=False)[:, -1], input_signature=[tf.TensorSpec([1, None], tf.int32)]
        )
    return _STEP_FUNCTIONS[model]


def complete(model: keras.Model, vocab: CharVocabulary, request: CompletionRequest) -> str:
    """The continuation of `request.prompt` (without the prompt), at most `max_chars` characters."""
    rng = np.random.default_rng(request.seed)
    ids = list(vocab.encode(request.prompt)) or [vocab.eof_id]
    out: list[str] = []
    step = _next_logits(model)
    context = min(request.context_chars, context_limit(model) or request.context_chars)
    for _ in range(request.max_chars):
        window = np.array([ids[-context:]], dtype=np.int32)
        logits = step(window).numpy()[0].astype(np.float64)
        logits[[vocab.pad_id, vocab.unk_id]] = -np.inf  # never emit padding or unknown
        if request.temperature <= 0:
            nxt = int(np.argmax(logits))
        else:
            scaled = logits / request.temperature
            if request.top_k:
                cutoff = np.sort(scaled)[-request.top_k]
                scaled[scaled < cutoff] = -np.inf
            probs = np.exp(scaled - scaled.max())
            nxt = int(rng.choice(len(probs), p=probs / probs.sum()))
        if nxt == vocab.eof_id:
            break
        ids.append(nxt)
        out.append(vocab.symbols[nxt])
        if _should_stop(request.prompt, "".join(out), request.stop):
            break
    text = "".join(out)
    # A block completion stops on the first line of the next block: leave that line out.
    if request.stop == "block" and "\n" in text and not text.endswith("\n"):
        text = text[: text.rindex("\n") + 1]
    return text


def sample_completions(
    model: keras.Model, vocab: CharVocabulary, prompts: tuple[str, ...] = SAMPLE_PROMPTS
) -> list[dict[str, str]]:
    """Greedy completions to the end of the line: `[{"prompt": ..., "completion": ...}, ...]`."""
    return [{"prompt": p, "completion": complete(model, vocab, CompletionRequest(p, stop="line"))} for p in prompts]
