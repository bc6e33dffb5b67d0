"""Sandbox stand-in for the dunnhumby "Let's get sort of real" weekly transaction files.

Writes `transactions_YYYYWW.csv[.gz]` files in the exact public format (22 columns, one line per
basket line, rows shuffled, anonymous rows with quoted empty customer fields, the `seg_1`/`seg_2`
or the official column variant) plus the `time.csv` shop-week calendar. Shopping behaviour is
planted so that models have something true to find: every basket serves one *mission* (a group
of products bought together), and known customers re-buy their favourite products.

Each week is generated from its own seed, so writing one week alone gives the same file as
writing it in a batch, and `basket_missions` holds the planted mission of every basket written.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from scrapers.dunnhumby.week_files import (
    CALENDAR_FILE,
    LIFESTAGE_TO_SEG_2,
    OFFICIAL_COLUMNS,
    PRICE_SENSITIVITY_TO_SEG_1,
    SEG_COLUMNS,
    shop_week_start,
    shop_weekday,
    shop_weeks,
    week_file_name,
)

DOMINANT_MISSIONS = ["Fresh", "Grocery", "Nonfood", "Mixed"]
STORE_FORMATS = ["LS", "MS", "SS", "XLS"]
STORE_REGIONS = ["E01", "E02", "E03", "N01", "N02", "N03", "S01", "S02", "S03", "W01", "W02", "W03"]


@dataclass(frozen=True)
class Product:
    code: str
    sub_class: str  # PROD_CODE_10
    department: str  # PROD_CODE_20
    group: str  # PROD_CODE_30
    division: str  # PROD_CODE_40
    price: float
    mission: int  # the planted mission this product belongs to


@dataclass(frozen=True)
class Customer:
    code: str
    price_sensitivity: str
    lifestage: str | None
    mission_weights: np.ndarray
    favourites: dict[int, np.ndarray]  # mission -> product indices re-bought often
    visit_rate: float
    store: int


@dataclass
class DunnhumbySandbox:
    """A synthetic shop: products grouped into planted missions, customers, stores."""

    seed: int = 7
    n_customers: int = 300
    n_products: int = 600
    n_missions: int = 6
    n_stores: int = 12
    anonymous_share: float = 0.2
    mission_purity: float = 0.9  # share of a basket's items drawn from its own mission
    repeat_share: float = 0.5  # share of a known customer's mission items taken from favourites
    basket_missions: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.products = self._make_products(rng)
        self.mission_products = [
            np.array([i for i, p in enumerate(self.products) if p.mission == m]) for m in range(self.n_missions)
        ]
        # Zipf-like popularity inside each mission: a few staples, a long tail.
        self.popularity = np.array([1.0 / (1 + (i // self.n_missions)) ** 0.8 for i in range(self.n_products)])
        self.customers = [self._make_customer(rng, i) for i in range(self.n_customers)]
        self.stores = [
            (f"STORE{i + 1:05d}", STORE_FORMATS[i % len(STORE_FORMATS)], STORE_REGIONS[i % len(STORE_REGIONS)])
            for i in range(self.n_stores)
        ]

    # -- the shop ------------------------------------------------------------------------
    def _make_products(self, rng: np.random.Generator) -> list[Product]:
        products = []
        for i in range(self.n_products):
            mission = i % self.n_missions
            division = mission % 9 + 1
            group = mission * 3 + int(rng.integers(3)) + 1
            department = group * 3 + int(rng.integers(3)) + 1
            sub_class = department * 4 + int(rng.integers(4)) + 1
            products.append(
                Product(
                    code=f"PRD09{i + 1:05d}",
                    sub_class=f"CL{sub_class:05d}",
                    department=f"DEP{department:05d}",
                    group=f"G{group:05d}",
                    division=f"D{division:05d}",
                    price=round(float(rng.lognormal(0.3, 0.6)), 2),
                    mission=mission,
                )
            )
        return products

    def _make_customer(self, rng: np.random.Generator, index: int) -> Customer:
        weights = rng.dirichlet(np.full(self.n_missions, 0.4))
        favourites = {}
        for m in range(self.n_missions):
            pool = self.mission_products[m]
            p = self.popularity[pool] / self.popularity[pool].sum()
            favourites[m] = rng.choice(pool, size=min(len(pool), int(rng.integers(3, 9))), replace=False, p=p)
        return Customer(
            code=f"CUST{1_000_000 + index * 37:010d}",
            price_sensitivity=str(rng.choice(["LA", "MM", "UM", "XX"], p=[0.3, 0.4, 0.25, 0.05])),
            lifestage=None if rng.random() < 0.1 else str(rng.choice(sorted(LIFESTAGE_TO_SEG_2))),
            mission_weights=weights,
            favourites=favourites,
            visit_rate=float(rng.gamma(2.0, 0.4)),
            store=int(rng.integers(self.n_stores)),
        )

    # -- one week ------------------------------------------------------------------------
    def week_rows(self, week: str) -> list[dict[str, str]]:
        """All basket lines of one shop week, shuffled like the public files."""
        rng = np.random.default_rng([self.seed, int(week)])
        start = shop_week_start(week)
        rows: list[dict[str, str]] = []
        visits: list[tuple[Customer | None, int]] = []
        for customer in self.customers:
            visits += [(customer, customer.store)] * int(rng.poisson(customer.visit_rate))
        # Anonymous baskets (no loyalty card): about `anonymous_share` of all baskets.
        n_anonymous = int(round(len(visits) * self.anonymous_share / (1 - self.anonymous_share)))
        visits += [(None, int(rng.integers(self.n_stores))) for _ in range(n_anonymous)]
        for serial, (customer, store) in enumerate(visits, start=1):
            basket_id = int(f"994{week}{serial:06d}")
            weights = customer.mission_weights if customer else np.full(self.n_missions, 1 / self.n_missions)
            mission = int(rng.choice(self.n_missions, p=weights))
            self.basket_missions[basket_id] = mission
            rows += self._basket_rows(rng, week, start, basket_id, mission, customer, store)
        order = rng.permutation(len(rows))
        return [rows[i] for i in order]

    def _basket_rows(
        self,
        rng: np.random.Generator,
        week: str,
        start: date,
        basket_id: int,
        mission: int,
        customer: Customer | None,
        store: int,
    ) -> list[dict[str, str]]:
        n_items = int(min(40, 2 + rng.geometric(1 / 7)))
        items: dict[int, int] = {}
        for _ in range(n_items):
            if rng.random() < self.mission_purity:
                if customer is not None and rng.random() < self.repeat_share:
                    product = int(rng.choice(customer.favourites[mission]))
                else:
                    pool = self.mission_products[mission]
                    product = int(rng.choice(pool, p=self.popularity[pool] / self.popularity[pool].sum()))
            else:
                product = int(rng.choice(self.n_products, p=self.popularity / self.popularity.sum()))
            items[product] = items.get(product, 0) + 1
        day = start + timedelta(days=int(rng.integers(7)))
        hour = int(np.clip(rng.normal(15, 3.5), 8, 22))
        size = "S" if n_items < 5 else ("M" if n_items < 13 else "L")
        basket_type = "Small Shop" if n_items < 5 else ("Top Up" if n_items < 13 else "Full Shop")
        if rng.random() < 0.02:
            basket_type = "XX"
        dominant = DOMINANT_MISSIONS[mission % len(DOMINANT_MISSIONS)]
        basket_sensitivity = customer.price_sensitivity if customer else str(rng.choice(["LA", "MM", "UM"]))
        store_code, store_format, region = self.stores[store]
        rows = []
        for product_index, quantity in items.items():
            product = self.products[product_index]
            rows.append(
                {
                    "SHOP_WEEK": week,
                    "SHOP_DATE": day.strftime("%Y%m%d"),
                    "SHOP_WEEKDAY": str(shop_weekday(day)),
                    "SHOP_HOUR": str(hour),
                    "QUANTITY": str(quantity),
                    "SPEND": str(round(product.price * quantity, 2)),
                    "PROD_CODE": product.code,
                    "PROD_CODE_10": product.sub_class,
                    "PROD_CODE_20": product.department,
                    "PROD_CODE_30": product.group,
                    "PROD_CODE_40": product.division,
                    "CUST_CODE": customer.code if customer else "",
                    "CUST_PRICE_SENSITIVITY": customer.price_sensitivity if customer else "",
                    "CUST_LIFESTAGE": (customer.lifestage or "") if customer else "",
                    "BASKET_ID": str(basket_id),
                    "BASKET_SIZE": size,
                    "BASKET_PRICE_SENSITIVITY": basket_sensitivity,
                    "BASKET_TYPE": basket_type,
                    "BASKET_DOMINANT_MISSION": dominant,
                    "STORE_CODE": store_code,
                    "STORE_FORMAT": store_format,
                    "STORE_REGION": region,
                }
            )
        return rows

    # -- files -----------------------------------------------------------------------------
    def write_week(self, folder: str | Path, week: str, compress: bool = True, variant: str = "seg") -> Path:
        """Write the week's file under the name ingestion picks up (`week_file_name`); `variant` is "seg"
        (public copy) or "official"."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / week_file_name(week, compress)
        text = format_rows(self.week_rows(week), variant)
        # Write then rename, so a watching sensor never sees a half-written file.
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(gzip.compress(text.encode(), mtime=0) if compress else text.encode())
        tmp.replace(path)
        return path

    def write_weeks(self, folder: str | Path, weeks: list[str], **kwargs: object) -> list[Path]:
        return [self.write_week(folder, week, **kwargs) for week in weeks]  # type: ignore[arg-type]


def format_rows(rows: list[dict[str, str]], variant: str = "seg") -> str:
    """CSV text as in the public files: empty customer fields are quoted (`""`), nothing else is."""
    if variant not in ("seg", "official"):
        raise ValueError(f"unknown column variant {variant!r}")
    header = SEG_COLUMNS if variant == "seg" else OFFICIAL_COLUMNS
    lines = [",".join(header)]
    for row in rows:
        values = []
        for name in OFFICIAL_COLUMNS:
            value = row[name]
            if variant == "seg" and name == "CUST_PRICE_SENSITIVITY" and value:
                value = PRICE_SENSITIVITY_TO_SEG_1[value]
            elif variant == "seg" and name == "CUST_LIFESTAGE" and value:
                value = LIFESTAGE_TO_SEG_2[value]
            values.append(value if value else '""')
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def write_calendar(folder: str | Path, first: str = "200607", count: int = 142) -> Path:
    """The `time.csv` shop-week calendar (lower-case header, like the public file)."""
    path = Path(folder) / CALENDAR_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["shop_week,date_from,date_to"]
    for week in shop_weeks(first, count):
        start = shop_week_start(week)
        lines.append(f"{week},{start:%Y%m%d},{start + timedelta(days=6):%Y%m%d}")
    path.write_text("\n".join(lines) + "\n")
    return path


def write_excel_mangled(sandbox: DunnhumbySandbox, path: str | Path, week: str) -> Path:
    """A week saved through a spreadsheet: official headers, every BASKET_ID shown as `9.94E+14`."""
    rows = sandbox.week_rows(week)
    for row in rows:
        row["BASKET_ID"] = f"{int(row['BASKET_ID']):.2E}"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_rows(rows, "official").replace('""', ""))
    return path
