"""Labels from titles: the vocabulary parser, colourways and prices; and the real GOAT titles."""

import csv
from decimal import Decimal

import pytest

from scrapers.sneakers.titles import DEFAULT_VOCABULARY, ORIGINAL_MODELS, SneakerVocabulary, colourway_of, parse_price


@pytest.mark.parametrize(
    ("title", "model", "brand"),
    [
        ("Air Jordan 1 Retro High OG 'Chicago'", "AJ 1", "AIR JORDAN"),
        ("Air Jordan 11 Retro Low 'Bred'", "AJ 11", "AIR JORDAN"),  # not AJ 1
        ("Travis Scott x Air Jordan 4 Retro 'Cactus Jack'", "AJ 4", "AIR JORDAN"),
        ("Nike SB Dunk Low Pro 'Ishod'", "NIKE DUNK LOW", "NIKE"),
        ("Dunk High 'Panda'", "NIKE DUNK HIGH", "NIKE"),
        ("Air Force 1 '07 Low 'White'", "NIKE AF1", "NIKE"),
        ("Air Max 90 Essential 'Infrared'", "NIKE AIR MAX 90", "NIKE"),
        ("Yeezy Boost 350 V2 'Zebra'", "YZY 350", "YEEZY"),
        ("Yeezy Slides 'Bone'", "YZY SLIDES", "YEEZY"),
        ("550 'White Green'", "NB550", "NEW BALANCE"),
        ("990v5 Made in USA 'Grey'", "NB990", "NEW BALANCE"),
        ("Bapesta FS-001 Low 'Camo'", "BAPESTA", "BAPESTA"),
        ("Stan Smith 'Cloud White'", "ADIDAS STAN SMITH", "ADIDAS"),
        ("Classic Clog 'Lightning McQueen'", None, None),
    ],
)
def test_titles_parse_to_model_and_brand(title, model, brand):
    parsed = SneakerVocabulary().parse(title)
    assert (parsed.model, parsed.brand) == (model, brand)


def test_vocabulary_is_configurable():
    vocabulary = SneakerVocabulary.from_config([{"label": "CLOG", "brand": "CROCS", "pattern": r"classic clog"}])
    assert vocabulary.parse("Classic Clog 'Mater'").model == "CLOG"
    assert vocabulary.parse("Air Jordan 1 'Bred'").model is None


def test_colourway_groups_near_identical_listings():
    assert colourway_of("Air Jordan 1 Low 'Bred Toe' 2018") == "bred toe"
    assert colourway_of("Kith x Air Jordan 1 Low 'Bred Toe'") == "bred toe"


def test_prices_parse_as_decimals_with_currency():
    assert parse_price("$1,234") == (Decimal("1234.00"), "USD")
    assert parse_price("€99.5") == (Decimal("99.50"), "EUR")
    assert parse_price("") == (None, None)
    with pytest.raises(ValueError, match="unparseable price"):
        parse_price("call us")


@pytest.mark.real_data
def test_real_goat_titles_of_the_24_known_models_parse(shared_data):
    """The original project's validation titles, labelled by its row ranges (noisy: e.g. Air Jordan 17 filed
    under AJ 3): at least 97% must parse to a model, and the parsed brand must agree with its label."""
    path = shared_data / "sneakers" / "cnn_predicted_probabilities_seed.csv"
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        # The one-hot model labels are the last 24 columns before the title (one label name also appears
        # among the corrupted probability columns earlier in the row).
        label_columns = [i for i, name in enumerate(header) if name in ORIGINAL_MODELS][-24:]
        rows = list(reader)
    assert len(label_columns) == 24
    brand_of = {label: brand for label, brand, _ in DEFAULT_VOCABULARY}
    vocabulary = SneakerVocabulary()
    total = parsed = brand_agrees = model_agrees = 0
    for row in rows:
        labels = [header[i] for i in label_columns if row[i] == "1"]
        if len(labels) != 1:
            continue
        title = row[-1][2:-1] if row[-1].startswith(("b'", 'b"')) else row[-1]  # stored as Python bytes reprs
        result = vocabulary.parse(title)
        total += 1
        parsed += result.model is not None
        model_agrees += result.model == labels[0]
        brand_agrees += result.brand == brand_of[labels[0]]
    assert total > 2000
    print(
        f"parsed {parsed / total:.3f}, model agrees {model_agrees / total:.3f}, brand agrees {brand_agrees / total:.3f}"
    )
    assert parsed / total >= 0.97
    assert brand_agrees / total >= 0.97
