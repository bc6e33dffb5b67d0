"""Where the dunnhumby pipeline keeps its data: the landing folder, every Delta table (declared once) and
the model stores. No column holds personal data: `CUST_CODE` is the dataset's pseudonymous card code and
the customer fields are segment codes."""

from assets.dunnhumby.partitions import WEEK
from foundation.tables import DeltaTableSpec
from models.dunnhumby.baskets import BASKETS_SCHEMA, SEQUENCES_SCHEMA
from models.dunnhumby.mission_training import (
    MISSIONS_SCHEMA,
    PROFILES_SCHEMA,
    TOP_PRODUCTS_SCHEMA,
    WEEK_MISSIONS_SCHEMA,
)
from models.dunnhumby.next_basket_scoring import SCORES_SCHEMA
from scrapers.dunnhumby.week_files import CALENDAR_SCHEMA, TRANSACTIONS_SCHEMA

LANDING_SOURCE = "dunnhumby"  # files land in storage.landing_path("dunnhumby"); quarantine source too

# Model stores (`storage.model_store(name)`).
MISSION_MODEL = "dunnhumby_missions"
NEXT_BASKET_MODEL = "dunnhumby_next_basket"

CALENDAR = DeltaTableSpec(
    "dunnhumby_shop_calendar",
    CALENDAR_SCHEMA,
    keys=("SHOP_WEEK",),
    description="The shop-week calendar: first and last day of every shop week.",
)
TRANSACTIONS = DeltaTableSpec(
    "dunnhumby_transactions",
    TRANSACTIONS_SCHEMA,
    partition_by=(WEEK,),
    keys=(WEEK, "SOURCE_LINE"),  # one landed file per week
    description="Weekly transaction lines as landed, typed; anonymous lines flagged.",
)
BASKETS = DeltaTableSpec(
    "dunnhumby_baskets",
    BASKETS_SCHEMA,
    partition_by=(WEEK,),
    keys=(WEEK, "BASKET_ID"),
    description="One row per basket: its products, quantities, totals and basket attributes.",
)
SEQUENCES = DeltaTableSpec(
    "dunnhumby_customer_basket_sequences",
    SEQUENCES_SCHEMA,
    keys=("CUST_CODE",),
    description="Each known customer's baskets in time order.",
)
BASKET_MISSIONS = DeltaTableSpec(
    "dunnhumby_basket_missions",
    MISSIONS_SCHEMA,
    partition_by=(WEEK,),
    keys=(WEEK, "BASKET_ID"),
    description="Every basket's LDA shopping mission and its probability.",
)
WEEK_MISSIONS = DeltaTableSpec(
    "dunnhumby_week_missions",
    WEEK_MISSIONS_SCHEMA,
    partition_by=(WEEK,),
    keys=(WEEK, "BASKET_ID"),
    description="Each ingested week's baskets given missions by the published LDA (no refit, ids unchanged); "
    "baskets of only unknown products flagged.",
)
MISSION_PROFILES = DeltaTableSpec(
    "dunnhumby_mission_profiles",
    PROFILES_SCHEMA,
    keys=("MISSION", "ATTRIBUTE", "VALUE"),
    description="Mission index tables (100 = average).",
)
MISSION_TOP_PRODUCTS = DeltaTableSpec(
    "dunnhumby_mission_top_products",
    TOP_PRODUCTS_SCHEMA,
    keys=("MISSION", "RANK"),
    description="Top products per mission.",
)
NEXT_BASKET_SCORES = DeltaTableSpec(
    "dunnhumby_next_basket_scores",
    SCORES_SCHEMA,
    partition_by=(WEEK,),
    keys=(WEEK, "CUST_CODE", "RANK"),
    description="Top-k next-basket products per customer of a week, from the published model.",
)
