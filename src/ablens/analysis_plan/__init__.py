"""The analysis plan: one YAML file that says what an experiment is and how to read it.

A plan names the experiment, where its data live (a parquet or CSV file, a DuckDB table, a
warehouse table through Ibis, a Spark table), the variant and unit columns, the arms and their
planned split, the metrics with their roles and desired directions, segments, the significance
level and multiple-testing correction, the sequential method, and the planned sample size and
duration. One module per job:

- `ablens.analysis_plan.model`: the frozen, typed objects (`AnalysisPlan`, `MetricSpec`,
  `Planned`) and `PlanError`;
- `ablens.analysis_plan.parser`: `load_plan`, `parse_plan` and `plan_from_dict`, every problem
  reported at once at its line;
- `ablens.analysis_plan.schema`: `plan_json_schema`, derived from the model and the metric
  kinds' declarations;
- `ablens.analysis_plan.run`: `run_plan`, `check_source` and `with_data_file`, opening the
  plan's source (cleaned by its ``sql`` and ``filter``, `RowFilter`) in `ablens.data.sources`.

The verdict that reads a plan's result lives in `ablens.decision`, the whole readout (looks,
Bayesian reading, verdict) in `ablens.readout`. "Plan" here is always the analysis plan; the
power calculation is `ablens.power_plan`.

>>> plan = plan_from_dict(
...     {
...         "experiment_id": "e1",
...         "source": {"path": "users.parquet"},
...         "control": "a",
...         "metrics": [{"kind": "mean", "column": "revenue"}],
...     }
... )
>>> plan.metrics[0].to_dict()  # defaults filled in
{'kind': 'mean', 'name': 'revenue', 'role': 'primary', 'direction': 'increase',
 'column': 'revenue', 'test': 'welch', 'covariates': [], 'adjustment': 'cuped',
 'vcov': 'classical', 'reference': 'normal'}
"""

from ablens.analysis_plan.model import AnalysisPlan, MetricSpec, PlanError, Planned
from ablens.analysis_plan.parser import load_plan, parse_plan, plan_from_dict
from ablens.analysis_plan.run import check_plan, check_source, run_plan, with_data_file
from ablens.analysis_plan.schema import plan_json_schema
from ablens.data.sources import (
    DataSource,
    DuckDBSource,
    PathSource,
    RowFilter,
    SparkSource,
    WarehouseSource,
)

__all__ = [
    "AnalysisPlan",
    "DataSource",
    "DuckDBSource",
    "MetricSpec",
    "PathSource",
    "PlanError",
    "Planned",
    "RowFilter",
    "SparkSource",
    "WarehouseSource",
    "check_plan",
    "check_source",
    "load_plan",
    "parse_plan",
    "plan_from_dict",
    "plan_json_schema",
    "run_plan",
    "with_data_file",
]
