"""Mission word granularity (product, class, department, division) and NPMI topic coherence, on tiny data."""

import math
import pickle

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from models.dunnhumby.mission_training import hierarchy_levels, train_missions, week_missions
from models.dunnhumby.missions import BasketVectorizer, fit_missions, npmi_coherence

LINES = pl.DataFrame(
    {
        "PROD_CODE": ["milk", "cream", "apple", "pear", "soap"],
        "PROD_CODE_10": ["CL-dairy", "CL-dairy", "CL-fruit", "CL-fruit", "CL-soap"],
        "PROD_CODE_20": ["DEP-fresh", "DEP-fresh", "DEP-fresh", "DEP-fresh", "DEP-home"],
        "PROD_CODE_40": ["D-food", "D-food", "D-food", "D-food", "D-nonfood"],
    }
)
BASKETS = [["milk", "cream"], ["apple", "pear", "milk"], ["soap"], ["pear", "unknown"]]
QUANTITIES = [[1, 2], [1, 1, 3], [4], [1, 1]]


@pytest.mark.parametrize(
    ("granularity", "vocabulary", "first_row"),
    [
        ("product", ["apple", "cream", "milk", "pear", "soap", "unknown"], [0, 2, 1, 0, 0, 0]),
        ("class", ["CL-dairy", "CL-fruit", "CL-soap"], [3, 0, 0]),
        ("department", ["DEP-fresh", "DEP-home"], [3, 0]),
        ("division", ["D-food", "D-nonfood"], [3, 0]),
    ],
)
def test_granularity_sets_the_vocabulary_and_adds_up_a_basket_s_lines(granularity, vocabulary, first_row):
    vectorizer = BasketVectorizer(granularity=granularity).fit(BASKETS, hierarchy_levels(LINES, granularity))
    assert vectorizer.products == vocabulary  # a product outside the lookup is no word at coarser levels
    counts = vectorizer.transform(BASKETS, QUANTITIES).toarray()
    assert counts[0].tolist() == first_row  # milk 1 + cream 2 = 3 items of class dairy
    assert counts.sum() == (14 if granularity == "product" else 13)  # "unknown" has no hierarchy code


def test_coarse_granularity_needs_the_lookup_and_rejects_unknown_names():
    with pytest.raises(ValueError, match="levels"):
        BasketVectorizer(granularity="class").fit(BASKETS)
    with pytest.raises(ValueError, match="granularity"):
        BasketVectorizer(granularity="aisle")


def test_models_pickled_before_granularity_load_as_product_models():
    vectorizer = BasketVectorizer().fit(BASKETS)
    del vectorizer.__dict__["granularity"], vectorizer.__dict__["levels"]  # an old pickle's state
    loaded = pickle.loads(pickle.dumps(vectorizer))
    assert loaded.granularity == "product"
    assert loaded.transform(BASKETS, QUANTITIES).sum() == 14


def test_missions_at_class_granularity_score_new_weeks_by_class():
    fitted = [["milk", "cream"], ["apple", "pear"]] * 20
    levels = hierarchy_levels(LINES, "class")
    model = fit_missions(fitted, [[1, 1]] * 40, k_grid=[2], max_iter=5, granularity="class", levels=levels)
    assert model.vectorizer.products == ["CL-dairy", "CL-fruit"]
    assert set(model.top_products(2)["PROD_CODE"]) == {"CL-dairy", "CL-fruit"}  # missions' words are classes
    new = pl.DataFrame(
        {"SHOP_WEEK": ["200610"] * 2, "BASKET_ID": [1, 2], "CUST_CODE": ["c", "d"],
         "PRODUCTS": [["soap"], ["cream", "new"]], "QUANTITIES": [[1], [1, 1]]}
    )  # fmt: skip
    rows = pl.from_arrow(week_missions(model, new, "v1"))
    assert rows["KNOWN_PRODUCTS"].to_list() == [0, 1]  # soap's class was never fitted; cream is dairy
    assert rows["UNKNOWN_PRODUCTS_ONLY"].to_list() == [True, False]
    baskets = pl.DataFrame(
        {"SHOP_WEEK": ["200601"] * 40, "BASKET_ID": list(range(40)), "PRODUCTS": fitted, "QUANTITIES": [[1, 1]] * 40,
         "BASKET_DOMINANT_MISSION": ["Fresh", "Mixed"] * 20, "BASKET_TYPE": ["Small"] * 40}
    )  # fmt: skip
    run = train_missions(baskets, [2], 5, "online", 40, granularity="class", levels=levels)
    assert run.summary()["granularity"] == "class"


def test_npmi_on_a_hand_built_example():
    """Four baskets over words a, b, c: a and b always together (half the baskets), c alone in the rest.

    p(a) = p(b) = p(a,b) = 1/2 -> NPMI(a,b) = log(0.5 / 0.25) / -log(0.5) = 1; a and c never meet -> -1;
    a with d (in 3 of 4 baskets, with a in 1): log(0.25 / (0.5 * 0.75)) / -log(0.25) = log(2/3) / log(4).
    """
    present = np.array([[1, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=float)
    counts = sp.csr_matrix(present * 2)  # quantities do not matter, only presence
    scores = npmi_coherence([[0, 1], [0, 2], [0, 3], [0, 1, 2]], counts)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(-1.0)
    assert scores[2] == pytest.approx(math.log(2 / 3) / math.log(4))
    assert scores[3] == pytest.approx((1.0 - 1.0 - 1.0) / 3)  # mean over pairs ab, ac, bc
