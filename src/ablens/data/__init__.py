"""The data layer: per-arm moments computed where the data lives.

`compute_moments` runs one aggregation in the engine holding the data (pandas, polars, pyarrow,
DuckDB, parquet/CSV files, Ibis backends such as Postgres, BigQuery and Snowflake, PySpark),
through narwhals; `aggregate_events` turns raw events into one row per unit in the same engine;
`read_history` reads a metric's past period (moments and daily units) for planning.
Engines are imported lazily, only the one the caller passed.
"""

from typing import TYPE_CHECKING

from ablens._lazy import lazy_attributes
from ablens.data._source import bigquery_labels
from ablens.data.engine import DataReport, MomentsByArm, compute_moments

if TYPE_CHECKING:
    from ablens.data.checks import DataCheck, ExposureCheck, check_data
    from ablens.data.events import aggregate_events
    from ablens.data.history import History, read_history
    from ablens.data.looks import cumulative_moments
    from ablens.data.profile import ColumnProfile, TablePreview, preview_table, profile_columns
    from ablens.data.quantiles import compute_quantile_summaries
    from ablens.data.ranks import compute_rank_summary, compute_value_counts
    from ablens.data.sandwich import compute_sandwich_shares

# Everything but the moments loads on first use (checks, the HC sandwich pass, events, history,
# looks, profiles, quantiles, ranks): `import ablens` stays light.
_LAZY = {
    "DataCheck": "ablens.data.checks",
    "ExposureCheck": "ablens.data.checks",
    "check_data": "ablens.data.checks",
    "compute_sandwich_shares": "ablens.data.sandwich",
    "aggregate_events": "ablens.data.events",
    "History": "ablens.data.history",
    "read_history": "ablens.data.history",
    "cumulative_moments": "ablens.data.looks",
    "ColumnProfile": "ablens.data.profile",
    "TablePreview": "ablens.data.profile",
    "preview_table": "ablens.data.profile",
    "profile_columns": "ablens.data.profile",
    "compute_quantile_summaries": "ablens.data.quantiles",
    "compute_rank_summary": "ablens.data.ranks",
    "compute_value_counts": "ablens.data.ranks",
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "ColumnProfile",
    "DataCheck",
    "DataReport",
    "ExposureCheck",
    "History",
    "MomentsByArm",
    "TablePreview",
    "aggregate_events",
    "bigquery_labels",
    "check_data",
    "compute_moments",
    "compute_quantile_summaries",
    "compute_rank_summary",
    "compute_sandwich_shares",
    "compute_value_counts",
    "cumulative_moments",
    "preview_table",
    "profile_columns",
    "read_history",
]
