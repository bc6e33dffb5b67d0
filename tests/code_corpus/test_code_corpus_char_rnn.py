"""The char-RNN: tiny training from TFRecord manifests, resumable, exact reload, deterministic completion,
honest baselines, and the completion page in a real headless Chromium."""

from __future__ import annotations

import json
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from foundation.storage.tfrecords import ShardWriter
from models.code_corpus.corpus import char_features, encode_files, windows
from models.code_corpus.vocab import CharVocabulary

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TRAIN_FILES = ["heapq.py", "bisect.py", "keyword.py", "colorsys.py", "fnmatch.py", "glob.py", "shlex.py"]
VALID_FILES = ["textwrap.py"]
TEST_FILES = ["getopt.py", "sched.py"]
SEQ_LEN = 64


def _write_split(root: Path, split: str, names: list[str]) -> str:
    vocab = CharVocabulary()
    ids = encode_files([(STDLIB / n).read_text() for n in names], vocab)
    uri = str(root / split)
    meta = {
        "split": split,
        "seq_len": SEQ_LEN,
        "vocabulary": vocab.to_json(),
        "repositories": names,
        "source_table_version": 0,
    }
    with ShardWriter(uri, char_features(SEQ_LEN), metadata=meta) as writer:
        for inputs, targets in windows(ids, SEQ_LEN):
            writer.write({"inputs": inputs, "targets": targets})
    return uri


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("char_corpus")
    return {
        s: _write_split(root, s, f)
        for s, f in [("train", TRAIN_FILES), ("validation", VALID_FILES), ("test", TEST_FILES)]
    }


@pytest.fixture(scope="module")
def trained(tiny_corpus, tmp_path_factory):
    from models.code_corpus.config import CharRNNConfig
    from models.code_corpus.model import train

    out = tmp_path_factory.mktemp("model")
    config = CharRNNConfig.preset("tiny", epochs=1, units=48)
    first = train(config, tiny_corpus["train"], tiny_corpus["validation"], out)
    # A second call with more epochs resumes from the epoch-1 checkpoint instead of starting over.
    resumed = train(
        CharRNNConfig.preset("tiny", epochs=3, units=48), tiny_corpus["train"], tiny_corpus["validation"], out
    )
    return out, first, resumed


@pytest.mark.slow
def test_tiny_model_trains_resumes_and_reloads_exactly(trained, tiny_corpus):
    from models.code_corpus.model import evaluate, load

    out, first, resumed = trained
    assert resumed.resumed_from_epoch == 1 and [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert resumed.history[-1]["loss"] < first.history[0]["loss"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [f"epoch-00{i}.keras" for i in (1, 2, 3)]
    model, vocab, meta = load(out)
    assert vocab == CharVocabulary() and meta["source_table_version"] == 0 and meta["config"]["units"] == 48
    batch = np.array([vocab.encode("def heappush(heap, item):\n    ")], dtype=np.int32)
    np.testing.assert_array_equal(model(batch).numpy(), resumed.model(batch).numpy())
    scores = evaluate(model, tiny_corpus["test"])
    # Three tiny epochs must already beat character frequencies on held-out files (4.43 vs 4.58 bits when
    # written), and the top-5 must add to the top-1: a model that learnt nothing, or a broken metric, fails here.
    from models.code_corpus.baselines import unigram

    vocab_ = CharVocabulary()
    train_ids = encode_files([(STDLIB / n).read_text() for n in TRAIN_FILES], vocab_)
    test_ids = encode_files([(STDLIB / n).read_text() for n in TEST_FILES], vocab_)
    uni = unigram(train_ids, test_ids, vocab_.size)
    assert scores.bits_per_char < uni.bits_per_char, (scores, uni)
    assert scores.top5 > scores.top1 + 0.05


@pytest.mark.slow
def test_completion_is_deterministic_at_temperature_zero(trained):
    from models.code_corpus.completion import CompletionRequest, complete
    from models.code_corpus.model import load

    model, vocab, _ = load(trained[0])
    greedy = CompletionRequest("def heappush(heap, item):\n    ", max_chars=40, stop="none")
    assert complete(model, vocab, greedy) == complete(model, vocab, greedy) == complete(trained[1].model, vocab, greedy)
    text = complete(model, vocab, greedy)
    assert not any(special in text for special in ("<pad>", "<unk>", "<eof>"))  # special symbols never emitted
    if len(text) < 40:  # stopped early: only because the model's greedy choice after it is end-of-file
        ids = np.array([vocab.encode(greedy.prompt + text)[-greedy.context_chars :]], dtype=np.int32)
        logits = model(ids).numpy()[0, -1]
        logits[[vocab.pad_id, vocab.unk_id]] = -np.inf
        assert int(np.argmax(logits)) == vocab.eof_id, text
    sampled = CompletionRequest("import ", max_chars=30, temperature=1.0, top_k=5, seed=3, stop="none")
    assert complete(model, vocab, sampled) == complete(model, vocab, sampled)  # seeded
    line = complete(model, vocab, CompletionRequest("x = ", max_chars=200, stop="line"))
    # One line of content: blank lines before it are passed over (the line the prompt ends on may be complete).
    assert "\n" not in line.strip() and (line.endswith("\n") or len(line) == 200 or "\n" not in line)


def test_baselines_on_a_known_text():
    from models.code_corpus.baselines import compressors, ngram, unigram

    vocab = CharVocabulary()
    train_ids = vocab.encode((STDLIB / "heapq.py").read_text())
    test_ids = vocab.encode((STDLIB / "bisect.py").read_text())
    uni = unigram(train_ids, test_ids, vocab.size)
    six = ngram(train_ids, test_ids, vocab.size, order=6, topk_positions=2_000)
    assert 4.0 < uni.bits_per_char < 6.0
    assert six.bits_per_char < uni.bits_per_char and six.top5 > uni.top5
    # Repeating the training text makes the 6-gram nearly certain: it must score far below 1 bit.
    assert ngram(train_ids, train_ids, vocab.size, 6, 500).bits_per_char < 1.0
    gz, bz, xz = compressors((STDLIB / "bisect.py").read_text())
    assert all(1.0 < c.bits_per_char < 4.0 for c in (gz, bz, xz))  # small text: xz header overhead shows


def test_ngram_distribution_is_prob_for_every_symbol():
    from models.code_corpus.baselines import CharNGram

    ids = np.array([1, 2, 3, 1, 2, 4, 1, 2, 3, 0, 5, 1])
    model = CharNGram(3, 7).fit(ids)
    for history in ([], [2], [1, 2], [9, 9]):  # [9, 9]: contexts never seen fall back to shorter ones
        dist = model.distribution(history)
        assert dist.tolist() == [model.prob(history, s) for s in range(7)]
        assert dist.sum() == pytest.approx(1.0)
    # No context, by hand: symbol 1 is 4 of 12 ids, 6 distinct symbols seen, the uniform 1/7 below
    assert model.prob([], 1) == pytest.approx((4 + 6 * (1 / 7)) / (12 + 6))
    # After "1 2" (3 times: followed by 3, 4, 3): (2 + 2 * P(3 | "2")) / (3 + 2), with P(3 | "2") the same way
    p3_after_2 = (2 + 2 * model.prob([], 3)) / (3 + 2)
    assert model.prob([1, 2], 3) == pytest.approx((2 + 2 * p3_after_2) / (3 + 2))


def test_block_stop_ends_at_dedent():
    from models.code_corpus.completion import _should_stop

    prompt = "def f():\n    x = 1\n    "
    assert not _should_stop(prompt, "y = 2\n    z", "block")
    assert _should_stop(prompt, "y = 2\ndef", "block")
    assert _should_stop(prompt, "y = 2\n\n", "block")
    assert _should_stop("x = ", "1\n", "line")
    # After a complete line the first newline is not the end: the proposal is the next line.
    assert not _should_stop("with open(path) as f:", "\n", "line")
    assert not _should_stop("with open(path) as f:", "\n    ", "line")
    assert _should_stop("with open(path) as f:", "\n    data = f.read()\n", "line")


@pytest.mark.slow
def test_browser_types_and_sees_a_completion(trained):
    from playwright.sync_api import sync_playwright

    from foundation.browser import launch_options
    from models.code_corpus.service import from_model_dir

    with from_model_dir(trained[0]) as service, sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            page.goto(service.url)
            page.locator("#code").press_sequentially("def heappush(heap, item):\n    ", delay=15)
            # A tiny model may propose only blank space here: then the page says so (state "nothing").
            page.wait_for_selector("#completion[data-state=ready], #completion[data-state=nothing]", timeout=60_000)
            shown = page.locator("#completion").text_content()
            state = page.locator("#completion").get_attribute("data-state")
            status = page.locator("#status").text_content()
        finally:
            browser.close()
    answer = service.handle({"prompt": "def heappush(heap, item):\n    "})
    if answer["nothing_proposed"]:
        assert state == "nothing" and shown == "" and "proposes nothing" in status
    else:
        assert state == "ready" and shown == answer["completion"] and "completed in" in status


def test_the_page_says_when_the_model_proposes_nothing():
    """A model that always ends the file proposes an empty completion: the page says so instead of an empty box."""
    from playwright.sync_api import sync_playwright

    from foundation.browser import launch_options
    from models.code_corpus.config import CharRNNConfig
    from models.code_corpus.model import build_model
    from models.code_corpus.service import CompletionService

    vocab = CharVocabulary()
    model = build_model(CharRNNConfig(layers=1, units=8, embedding_dim=4, dropout=0.0, vocab_size=vocab.size))
    kernel, bias = model.get_layer("next_char_logits").get_weights()
    bias[vocab.eof_id] = 50.0  # <eof> first, whatever the input
    model.get_layer("next_char_logits").set_weights([kernel * 0, bias])
    with CompletionService(model, vocab) as service, sync_playwright() as p:
        answer = service.handle({"prompt": "with open(path) as f:"})
        assert answer["completion"] == "" and answer["nothing_proposed"]
        browser = p.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            page.goto(service.url)
            page.locator("#code").press_sequentially("with open(path) as f:", delay=5)
            page.wait_for_selector("#completion[data-state=nothing]", timeout=30_000)
            status = page.locator("#status").text_content()
        finally:
            browser.close()
    assert "proposes nothing" in status


def test_without_a_gpu_the_default_plan_never_trains_the_full_lstm(monkeypatch):
    """What an automatic retrain (default config) trains: sized by the hardware found, with a budget on a CPU."""
    from assets.code_corpus.training import resolve_plan
    from foundation.hardware import FORCE_ENV
    from models.code_corpus.config import TrainingPlan

    monkeypatch.setenv(FORCE_ENV, "cpu")
    presets, budget, reason = resolve_plan(TrainingPlan())
    assert "full" not in presets and presets[0] == "transformer" and budget == 30 * 60
    assert "no GPU found" in reason
    monkeypatch.setenv(FORCE_ENV, "gpu")
    presets, budget, reason = resolve_plan(TrainingPlan())
    assert presets == ["full", "transformer"] and budget is None and "GPU found" in reason
    presets, budget, _ = resolve_plan(TrainingPlan(preset="tiny", compare_with=[], budget_minutes=2))
    assert presets == ["tiny"] and budget == 120


def test_transformer_reloads_exactly_and_completes_beyond_its_context(tmp_path):
    from models.code_corpus.completion import CompletionRequest, complete
    from models.code_corpus.config import CharRNNConfig
    from models.code_corpus.model import build_model, context_limit, load, save

    vocab = CharVocabulary()
    config = CharRNNConfig.preset(
        "transformer", layers=1, units=16, embedding_dim=16, seq_len=32, vocab_size=vocab.size
    )
    model = build_model(config)
    assert context_limit(model) == 32
    save(model, vocab, tmp_path, {"config": {}})
    loaded, _, _ = load(tmp_path)
    batch = np.array([vocab.encode("def f(x):\n    return x")], dtype=np.int32)
    np.testing.assert_allclose(loaded(batch).numpy(), model(batch).numpy(), rtol=1e-5, atol=1e-5)
    long_prompt = "x = 1\n" * 50  # 300 characters: the model sees its last 32
    request = CompletionRequest(long_prompt, max_chars=10, stop="none")
    assert complete(loaded, vocab, request) == complete(model, vocab, request)


def test_model_assets_serve_the_validation_champion_with_intervals(storage, instance):
    """char_rnn_model trains two candidates and publishes the one with fewer validation bits/char; the evaluation
    scores both and the n-gram per window with bootstrap intervals, and says which one is served."""
    import dagster as dg

    from assets.code_corpus.tables import CHAR_CORPUS, CHAR_RNN_MODEL
    from assets.code_corpus.training import char_rnn_evaluation, char_rnn_model

    for split, names in [("train", TRAIN_FILES[:3]), ("validation", VALID_FILES), ("test", TEST_FILES[:1])]:
        root = Path(CHAR_CORPUS.uri(storage, split)).parent
        assert Path(_write_split(root, split, names)) == Path(CHAR_CORPUS.uri(storage, split))
    steps = {"epochs": 1, "steps_per_epoch": 3, "max_validation_examples": 20, "budget_minutes": 0}
    run_config = {
        "ops": {
            "char_rnn_model": {"config": {"preset": "tiny", "compare_with": ["small"], **steps}},
            "char_rnn_evaluation": {"config": {"max_test_examples": 20, "ngram_order": 3, "ngram_topk_positions": 50}},
        }
    }
    result = dg.materialize(
        [char_rnn_model, char_rnn_evaluation],
        instance=instance,
        resources={"storage": storage},
        run_config=run_config,
    )
    assert result.success
    meta = {
        m.asset_key.to_user_string(): {k: getattr(v, "value", v) for k, v in m.metadata.items()}
        for m in (x.event_specific_data.materialization for x in result.get_asset_materialization_events())
    }
    trained, evaluation = meta["char_rnn_model"], meta["char_rnn_evaluation"]
    bits = trained["validation_bits_per_char"]
    assert set(bits) == {"tiny", "small"} and trained["champion"] == min(bits, key=bits.__getitem__)
    assert "preset 'tiny' set in config" in trained["preset_choice"]
    store = storage.model_store(CHAR_RNN_MODEL)
    served = json.loads((store.path() / "meta.json").read_text())
    assert served["champion"]["preset"] == trained["champion"] == evaluation["served"]
    test = evaluation["comparison"]["test"]
    assert set(test) == {"tiny", "small", "3-gram (Witten-Bell)"}
    for interval in (scores["neg_bits_per_char"] for scores in test.values()):
        assert interval["low"] <= interval["mean"] <= interval["high"] and interval["low"] < interval["high"]
    assert "95% CI" in evaluation["candidates"]
