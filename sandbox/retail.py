"""Sandbox store databases for the retail pipeline.

Several real SQL databases (SQLite files by default; any SQLAlchemy URL works, PostgreSQL included)
in the original table layout: `Customer`, `Item`, `Department`, `BrandCode`, `TransactionEntry`.
A deterministic generator fills them with customers of a chain whose people shop under several
customer records (within one store and across stores) with the usual damage: typos, swapped first
and last names, missing e-mail or phone, moved addresses, reformatted phone numbers. Who is who is
the planted truth, kept in an extra `SandboxTruth` table that production databases do not have
(`planted_truth`, `match_quality` score a linkage against it in tests and the demo). The table layout
itself is production's, `scrapers/retail/store_schema.py`.

Purchases follow a simple, learnable process (complementary items often follow each other, people
keep to favourite departments) so next-item models have signal to find. A few rows are broken on
purpose (orphan transactions, customers without any identity field) for the quarantine.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from models.retail.dedup import STREET_ABBREVIATIONS, pairwise_scores
from scrapers.retail.store_schema import (
    BRAND_CODE,
    CUSTOMER,
    DEPARTMENT,
    ITEM,
    TRANSACTION_ENTRY,
    metadata,
    record_key,
    store_keys,
)
from scrapers.retail.stores import StoreDatabases

FIRST_NAMES = (
    "james mary robert patricia john jennifer michael linda david elizabeth william barbara richard susan joseph "
    "jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty anthony margaret mark sandra "
    "donald ashley steven kimberly paul emily andrew donna joshua michelle kenneth carol kevin amanda brian dorothy "
    "george melissa timothy deborah ronald stephanie edward rebecca jason sharon jeffrey laura ryan cynthia jacob "
    "kathleen gary amy nicholas angela eric shirley jonathan anna stephen brenda larry pamela justin emma scott "
    "nicole brandon helen benjamin samantha samuel katherine gregory christine alexander debra frank rachel patrick "
    "carolyn raymond janet jack catherine dennis maria jerry heather tyler diane aaron ruth jose julie adam olivia "
    "nathan joyce henry virginia douglas victoria zachary kelly peter lauren kyle christina ethan joan walter evelyn "
    "noah judith jeremy megan christian andrea keith cheryl roger hannah terry jacqueline gerald martha harold gloria"
).split()
LAST_NAMES = (
    "smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson "
    "anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis robinson "
    "walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera campbell "
    "mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart morris "
    "morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward "
    "richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo sanders patel "
    "myers long ross foster jimenez powell jenkins perry russell sullivan bell coleman butler henderson barnes "
    "gonzales fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds griffin wallace "
    "moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford castro marshall "
    "owens harrison fernandez mcdonald woods washington kennedy wells vargas henry chen freeman webb tucker guzman "
    "burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason dixon munoz hunt hicks holmes "
    "palmer wagner black robertson boyd rose stone salazar fox warren mills meyer rice schmidt garza daniels ferguson"
).split()
STREETS = (
    "main oak pine maple cedar elm washington lake hill park view sunset river church spring north south highland "
    "forest mill jackson lincoln madison franklin walnut willow meadow ridge chestnut cherry dogwood magnolia"
).split()
STREET_KINDS = ("street", "avenue", "road", "drive", "lane", "court", "boulevard", "way")
CITIES = (
    ("Birmingham", "AL", "352"),
    ("Hoover", "AL", "352"),
    ("Tuscaloosa", "AL", "354"),
    ("Huntsville", "AL", "358"),
    ("Atlanta", "GA", "303"),
    ("Marietta", "GA", "300"),
    ("Nashville", "TN", "372"),
    ("Memphis", "TN", "381"),
    ("Jackson", "MS", "392"),
    ("Mobile", "AL", "366"),
    ("Montgomery", "AL", "361"),
    ("Chattanooga", "TN", "374"),
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "aol.com", "icloud.com", "comcast.net")
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella LLC",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Imports",
    "Soylent Co",
    "Wonka Industries",
)
REFERRALS = ("Friend", "Radio", "Newspaper", "Web", " ", "")
DEPARTMENTS = (
    "Grocery",
    "Produce",
    "Dairy",
    "Bakery",
    "Meat",
    "Frozen",
    "Beverages",
    "Snacks",
    "Household",
    "Health",
    "Beauty",
    "Pet",
    "Garden",
    "Hardware",
)
BRAND_CODES = tuple(f"BR{i:03d}" for i in range(1, 31))
ITEM_WORDS = ("organic", "classic", "family", "value", "premium", "fresh", "light", "original", "large", "mini")

# The store schema is production's (scrapers/retail/store_schema.py); the truth table is the sandbox's own.
truth_metadata = sa.MetaData()
# Not part of the production layout: which person each sandbox customer record really is.
SANDBOX_TRUTH = sa.Table(
    "SandboxTruth",
    truth_metadata,
    sa.Column("CustomerID", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("PersonID", sa.Integer, nullable=False),
)


@dataclass(frozen=True)
class RetailWorld:
    """Everything the generator made, before it is split into store databases."""

    customers: pd.DataFrame  # original Customer columns + StoreID + PersonID (truth)
    items: pd.DataFrame
    departments: pd.DataFrame
    brands: pd.DataFrame
    transactions: pd.DataFrame  # original TransactionEntry columns + StoreID


# -- people and their customer records -----------------------------------------------------------


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.33:  # substitution
        return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i + 1 :]
    if kind < 0.66:  # deletion
        return word[:i] + word[i + 1 :]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]  # transposition


def _format_phone(rng: random.Random, digits: str) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    if style == 1:
        return f"{digits[:3]}-{digits[3:6]}-{digits[6:]}"
    if style == 2:
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"
    return digits


def _address(rng: random.Random) -> tuple[str, str]:
    kind = rng.choice(STREET_KINDS)
    street = f"{rng.randint(1, 9999)} {rng.choice(STREETS).title()} {kind.title()}"
    unit = f"Apt {rng.randint(1, 40)}" if rng.random() < 0.15 else ""
    return street, unit


def generate_customers(
    n_people: int, n_stores: int = 3, seed: int = 7, duplicate_share: float = 0.3, max_records: int = 4
) -> pd.DataFrame:
    """Customer records of `n_people` people; `duplicate_share` of them have 2..max_records records.

    Columns: the original `Customer` layout (ID unique per store) and `PersonID`, the planted truth.
    """
    rng = random.Random(seed)
    # About 100 people per zip code: a chain's region grows with its customer base, so blocks on
    # zip code keep their size and linkage cost stays near-linear in the number of records.
    n_zips = max(10, n_people // 100)
    zips = []
    for i in range(n_zips):
        city, state, prefix = CITIES[i % len(CITIES)]
        zips.append((city, state, f"{(int(prefix) * 100 + i * 37) % 100_000:05d}"))
    rows: list[dict] = []
    used: set[str] = set()
    next_id = [0] * n_stores
    for person in range(n_people):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        city, state, zip5 = rng.choice(zips)
        street, unit = _address(rng)
        # Phones and e-mail addresses identify one person each, as they do in life.
        phone = email = ""
        while not phone or phone in used:
            phone = f"{rng.choice('23456789')}{rng.randint(0, 99):02d}{rng.randint(2000000, 9999999)}"
        while not email or email in used:
            email = f"{first}{rng.choice(['.', '_', ''])}{last}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
        used.update((phone, email))
        company = rng.choice(COMPANIES) if rng.random() < 0.12 else ""
        n_records = rng.randint(2, max_records) if rng.random() < duplicate_share else 1
        home_store = rng.randrange(n_stores)
        for copy in range(n_records):
            store = home_store if copy == 0 or rng.random() < 0.4 else rng.randrange(n_stores)
            f, la, s, u, c, st, z, ph, em = first, last, street, unit, city, state, zip5, phone, email
            if copy > 0:  # damage the duplicate records
                if rng.random() < 0.3:
                    f = _typo(rng, f)
                if rng.random() < 0.3:
                    la = _typo(rng, la)
                if rng.random() < 0.08:
                    f, la = la, f
                if rng.random() < 0.15:  # moved house: new address, same phone and e-mail
                    s, u = _address(rng)
                    c, st, z = rng.choice(zips)
                elif rng.random() < 0.3:
                    kind = s.rsplit(" ", 1)[1]  # abbreviated the way clerks write it (and linkage undoes it)
                    s = s.replace(kind, STREET_ABBREVIATIONS.get(kind.lower(), kind).title())
                if rng.random() < 0.25:
                    ph = ""
                if rng.random() < 0.25:
                    em = ""
                elif rng.random() < 0.2:
                    em = em.upper()
                if rng.random() < 0.1:
                    z = f"{z}-{rng.randint(1000, 9999)}"
            next_id[store] += 1
            rows.append(
                {
                    "ID": next_id[store],
                    "StoreID": store + 1,
                    "PersonID": person,
                    "Zip": z,
                    "OldCustomerID": None,
                    "BirthMonth": None,
                    "TotalSales": round(rng.uniform(0, 3000), 4),
                    "TotalSavings": round(rng.uniform(0, 200), 4),
                    "TotalVisits": rng.randint(1, 40),
                    "LastVisit": datetime(2022, 1, 1) + timedelta(minutes=rng.randint(0, 500_000)),
                    "ReferralCode": rng.choice(REFERRALS),
                    "Company": company,
                    "FirstName": f.title() if rng.random() < 0.9 else f.upper(),
                    "LastName": la.title(),
                    "Address": s,
                    "Address2": u,
                    "City": c,
                    "State": st,
                    "PhoneNumber": _format_phone(rng, ph) if ph else "",
                    "EmailAddress": em,
                }
            )
    frame = pd.DataFrame(rows)
    # Empty strings stand for missing values in the original data; keep some as NULL too.
    for column in ("PhoneNumber", "EmailAddress", "Company", "Address2"):
        frame.loc[(frame[column] == "") & (frame.index % 2 == 0), column] = None
    return frame


# -- catalogue and purchases -------------------------------------------------------------------------


def linkage_input(customers: pd.DataFrame) -> pd.DataFrame:
    """Generated Customer rows (original column names) in the record-linkage input layout."""
    return pd.DataFrame(
        {
            "record_key": customers["StoreID"].astype(str) + ":" + customers["ID"].astype(str),
            "first_name": customers["FirstName"],
            "last_name": customers["LastName"],
            "company": customers["Company"],
            "address": customers["Address"],
            "city": customers["City"],
            "state": customers["State"],
            "zip": customers["Zip"],
            "phone": customers["PhoneNumber"],
            "email": customers["EmailAddress"],
        }
    )


def transactions_frame(world: RetailWorld, tx: pd.DataFrame, entity_ids: Any) -> pd.DataFrame:
    """Generated TransactionEntry rows in the `retail_transactions` layout, under the given entity ids."""
    items = world.items.set_index("ID")
    return pd.DataFrame(
        {
            "entity_id": entity_ids,
            "transaction_time": tx["TransactionTime"],
            "store_id": tx["StoreID"].astype(str),
            "transaction_id": tx["ID"],
            "item_id": tx["ItemID"],
            "quantity": tx["Quantity"],
            "price": tx["Price"],
            "department_id": tx["DepartmentID"],
            "discount_id": tx["DiscountID"],
            "return_id": tx["ReturnID"],
            "brand_code": items.loc[tx["ItemID"], "BinLocation"].to_numpy(),
        }
    )


def catalogue_frame(world: RetailWorld) -> pd.DataFrame:
    """The generated catalogue in the `retail_catalogue` layout (what `catalogue_features` takes)."""
    items = world.items
    return pd.DataFrame(
        {
            "item_id": items["ID"].astype("int64"),
            "description": items["Description"],
            "full_price": items["FullPrice"].astype(float),
            "department_id": items["DepartmentID"].astype("int64"),
            "brand_code": items["BinLocation"],
        }
    )


def generate_catalogue(n_items: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = random.Random(seed + 1)
    departments = pd.DataFrame({"ID": range(1, len(DEPARTMENTS) + 1), "DepartmentName": DEPARTMENTS})
    brands = pd.DataFrame({"BrandCode": BRAND_CODES, "BrandName": [f"Brand {c[2:]}" for c in BRAND_CODES]})
    items = []
    for item_id in range(1, n_items + 1):
        dept = rng.randrange(len(DEPARTMENTS))
        items.append(
            {
                "ID": item_id,
                "Description": f"{rng.choice(ITEM_WORDS).title()} {DEPARTMENTS[dept]} {item_id}"[:30],
                "FullPrice": round(rng.uniform(0.99, 49.99), 2),
                "BinLocation": BRAND_CODES[(dept * 2 + rng.randrange(3)) % len(BRAND_CODES)],
                "DepartmentID": dept + 1,
            }
        )
    return pd.DataFrame(items), departments, brands


def generate_purchases(
    customers: pd.DataFrame, items: pd.DataFrame, seed: int, mean_purchases: float = 12.0
) -> pd.DataFrame:
    """Per-person timelines spread over that person's customer records (and so over stores)."""
    rng = np.random.default_rng(seed + 2)
    n_items = len(items)
    item_ids = items["ID"].to_numpy()
    dept_of = items["DepartmentID"].to_numpy()
    price_of = items["FullPrice"].to_numpy()
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity = popularity[rng.permutation(n_items)]
    popularity /= popularity.sum()
    # Each item has three complements, mostly from its own department: what tends to come next.
    by_dept = {d: np.flatnonzero(dept_of == d) for d in np.unique(dept_of)}
    complements = np.empty((n_items, 3), dtype=np.int64)
    for i in range(n_items):
        same = by_dept[dept_of[i]]
        pool = same if len(same) > 3 and rng.random() < 0.8 else np.arange(n_items)
        complements[i] = rng.choice(pool, size=3, replace=len(pool) < 3)
    records = customers.groupby("PersonID")[["StoreID", "ID"]].apply(lambda g: g.to_numpy()).to_dict()
    start = np.datetime64("2022-01-01T08:00:00")
    rows = []
    for recs in records.values():
        n = max(1, int(rng.poisson(mean_purchases)))
        favourite = rng.choice(list(by_dept), size=2, replace=False)
        fav_pool = np.concatenate([by_dept[d] for d in favourite])
        fav_p = popularity[fav_pool] / popularity[fav_pool].sum()
        t = start + np.timedelta64(int(rng.integers(0, 200 * 86400)), "s")
        current = int(rng.choice(fav_pool, p=fav_p))
        for _ in range(n):
            store, customer_id = recs[rng.integers(len(recs))]
            discount = int(rng.integers(1, 4)) if rng.random() < 0.2 else 0
            full = float(price_of[current])
            rows.append(
                (
                    int(store),
                    int(customer_id),
                    int(item_ids[current]),
                    t,
                    round(full * (1 - 0.1 * discount), 2),
                    full,
                    float(rng.integers(1, 4)),
                    int(dept_of[current]),
                    discount,
                    1 if rng.random() < 0.02 else 0,
                )
            )
            t = t + np.timedelta64(int(rng.integers(3600, 20 * 86400)), "s")
            draw = rng.random()
            if draw < 0.6:
                current = int(complements[current, rng.integers(3)])
            elif draw < 0.9:
                current = int(rng.choice(fav_pool, p=fav_p))
            else:
                current = int(rng.choice(n_items, p=popularity))
    frame = pd.DataFrame(
        rows,
        columns=[
            "StoreID",
            "CustomerID",
            "ItemID",
            "TransactionTime",
            "Price",
            "FullPrice",
            "Quantity",
            "DepartmentID",
            "DiscountID",
            "ReturnID",
        ],
    )
    frame = frame.sort_values(["StoreID", "TransactionTime"], kind="stable").reset_index(drop=True)
    frame["ID"] = frame.groupby("StoreID").cumcount() + 1
    return frame


def generate_world(
    n_people: int = 2000, n_stores: int = 3, n_items: int = 300, seed: int = 7, mean_purchases: float = 12.0
) -> RetailWorld:
    customers = generate_customers(n_people, n_stores, seed)
    items, departments, brands = generate_catalogue(n_items, seed)
    transactions = generate_purchases(customers, items, seed, mean_purchases)
    return RetailWorld(customers, items, departments, brands, transactions)


# -- writing store databases ---------------------------------------------------------------------------


def _plant_bad_rows(
    customers: pd.DataFrame, transactions: pd.DataFrame, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per store: two orphan transactions and one customer record without any identity field."""
    rng = random.Random(seed + 3)
    blank = customers.iloc[[0]].copy()
    blank["ID"] = customers["ID"].max() + 1
    blank["PersonID"] = -1 - int(blank["StoreID"].iloc[0])
    for column in ("FirstName", "LastName", "Address", "PhoneNumber", "EmailAddress", "Company"):
        blank[column] = None
    orphans = transactions.sample(2, random_state=rng.randrange(1000)).copy()
    orphans["CustomerID"] = customers["ID"].max() + 1000
    orphans["ID"] = transactions["ID"].max() + np.arange(1, 3)
    return pd.concat([customers, blank]), pd.concat([transactions, orphans])


def write_store(url: str, world: RetailWorld, store_id: int, seed: int = 7, plant_bad_rows: bool = True) -> None:
    """Create (or replace) one store's database at `url` with its share of the world."""
    customers = world.customers[world.customers["StoreID"] == store_id]
    transactions = world.transactions[world.transactions["StoreID"] == store_id]
    if plant_bad_rows:
        customers, transactions = _plant_bad_rows(customers, transactions, seed + store_id)
    engine = sa.create_engine(url)
    try:
        for tables in (metadata, truth_metadata):
            tables.drop_all(engine)
            tables.create_all(engine)
        customer_cols = [c.name for c in CUSTOMER.columns]
        with engine.begin() as conn:
            conn.execute(DEPARTMENT.insert(), world.departments.to_dict("records"))
            conn.execute(BRAND_CODE.insert(), world.brands.to_dict("records"))
            conn.execute(ITEM.insert(), world.items.to_dict("records"))
            conn.execute(CUSTOMER.insert(), _records(customers[customer_cols]))
            conn.execute(
                SANDBOX_TRUTH.insert(),
                [
                    {"CustomerID": int(c), "PersonID": int(p)}
                    for c, p in zip(customers["ID"], customers["PersonID"], strict=True)
                ],
            )
            te_cols = [c.name for c in TRANSACTION_ENTRY.columns]
            conn.execute(TRANSACTION_ENTRY.insert(), _records(transactions[te_cols]))
    finally:
        engine.dispose()


def _records(frame: pd.DataFrame) -> list[dict]:
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in out:
        for key, value in row.items():
            if isinstance(value, pd.Timestamp):
                row[key] = value.to_pydatetime()
            elif isinstance(value, np.generic):
                row[key] = value.item()
    return out


def build_store_databases(
    directory: str | Path,
    n_stores: int = 3,
    n_people: int = 2000,
    n_items: int = 300,
    seed: int = 7,
    mean_purchases: float = 12.0,
) -> dict[str, str]:
    """Write `store_<n>.sqlite` files; returns {store partition key: SQLAlchemy URL}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    world = generate_world(n_people, n_stores, n_items, seed, mean_purchases)
    urls = {}
    for store_id, key in enumerate(store_keys(n_stores), start=1):
        urls[key] = f"sqlite:///{directory / f'{key}.sqlite'}"
        write_store(urls[key], world, store_id, seed)
    return urls


# -- the planted truth -------------------------------------------------------------------------------


def planted_truth(databases: StoreDatabases) -> pd.DataFrame | None:
    """record_key -> person id from the stores' SandboxTruth tables; None where a store has none."""
    frames = []
    for store in sorted(databases.store_urls):
        if not databases.has_table(store, SANDBOX_TRUTH.name):
            return None
        truth = databases.read(store, sa.select(SANDBOX_TRUTH))
        frames.append(
            pd.DataFrame(
                {
                    "record_key": [record_key(store, i) for i in truth["CustomerID"]],
                    "person_id": truth["PersonID"].astype("int64"),
                }
            )
        )
    return pd.concat(frames)


def match_quality(entities: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Pairwise precision/recall/F1 (exact pair counts) of `customer_entities` rows against the planted truth."""
    joined = entities.merge(truth, on="record_key", how="inner")
    return pairwise_scores(joined["entity_id"].to_numpy(), joined["person_id"].to_numpy())
