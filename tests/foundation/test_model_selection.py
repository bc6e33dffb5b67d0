import numpy as np
import pytest

from foundation.model_selection import bootstrap_interval, compare_candidates, paired_difference


def _scores(mean: float, n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < mean).astype(float)


def test_the_validation_winner_is_champion_even_when_it_is_a_baseline() -> None:
    per_query = {
        "popular": {"validation": {"ndcg": _scores(0.5, 400, 1)}, "test": {"ndcg": _scores(0.5, 300, 2)}},
        "neural": {"validation": {"ndcg": _scores(0.3, 400, 3)}, "test": {"ndcg": _scores(0.6, 300, 4)}},
    }
    comparison = compare_candidates(per_query, "ndcg", baselines={"popular"})
    # Chosen on validation, never on test (where the neural model looks better).
    assert comparison.champion == "popular" and comparison.champion_is_baseline
    assert comparison.runner_up == "neural"
    assert comparison.champion_vs_best_baseline is None
    assert comparison.to_json()["champion_is_baseline"] is True
    assert comparison.table_rows()[0][1] == "champion (baseline)"


def test_paired_difference_sees_a_consistent_gain_that_overlapping_intervals_hide() -> None:
    rng = np.random.default_rng(0)
    base = rng.random(500)
    better = base + 0.02  # every query a little better
    assert bootstrap_interval(better).low < bootstrap_interval(base).high  # the marginal intervals overlap
    assert paired_difference(better, base).low > 0.0


def test_ties_prefer_the_earlier_candidate_and_mismatched_queries_fail() -> None:
    same = np.ones(10)
    per_query = {
        "baseline": {"validation": {"m": same}, "test": {"m": same}},
        "model": {"validation": {"m": same}, "test": {"m": same}},
    }
    assert compare_candidates(per_query, "m", baselines={"baseline"}).champion == "baseline"
    with pytest.raises(ValueError):
        paired_difference(np.ones(3), np.ones(4))


def test_the_champion_check_warns_only_when_the_champion_loses_beyond_noise() -> None:
    from foundation.model_checks import champion_check_result

    def comparison(champion_mean: float, n: int = 600) -> dict:
        per_query = {
            "popular": {"validation": {"ndcg": _scores(0.3, n, 1)}, "test": {"ndcg": _scores(0.5, n, 2)}},
            "neural": {"validation": {"ndcg": _scores(0.6, n, 3)}, "test": {"ndcg": _scores(champion_mean, n, 4)}},
        }
        return compare_candidates(per_query, "ndcg", baselines={"popular"}).to_json()

    losing, even = champion_check_result(comparison(0.3), "ndcg"), champion_check_result(comparison(0.5), "ndcg")
    assert not losing.passed and losing.severity.value == "WARN"
    assert even.passed and even.metadata["champion"].value == "neural"
    assert even.metadata["strongest_baseline"].value == "popular"
    baseline_served = comparison(0.5) | {"champion": "popular", "champion_is_baseline": True}
    assert champion_check_result(baseline_served, "ndcg").passed
