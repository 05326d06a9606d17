"""ablens: A/B-test analysis and power analysis from per-arm sufficient statistics.

The whole public API lives in this flat namespace:

>>> import ablens
>>> data = {
...     "control": ablens.Moments.from_summary(1000, mean={"x": 10.0}, variance={"x": 4.0}),
...     "treatment": ablens.Moments.from_summary(1000, mean={"x": 10.3}, variance={"x": 4.0}),
... }
>>> result = ablens.analyze(data, [ablens.Mean("x")], control="control")
>>> round(result.comparison("x").result.p_value, 6)
0.000811
"""

from ablens._version import __version__
from ablens.analysis import analyze
from ablens.config import (
    AnalysisPlan,
    HealthCheck,
    MetricSpec,
    PlanError,
    Verdict,
    load_plan,
    parse_plan,
    plan_from_dict,
    plan_json_schema,
    run_plan,
    verdict,
)
from ablens.data import (
    DataReport,
    MomentsByArm,
    aggregate_events,
    compute_moments,
    compute_quantile_summaries,
    compute_rank_summary,
    cumulative_moments,
)
from ablens.errors import AblensError, ConfigError, DataError, InputError, MissingDependencyError
from ablens.metrics import MannWhitney, Mean, Metric, PostStratified, Proportion, Quantile, Ratio
from ablens.report import data_fingerprint, render_report, write_report
from ablens.results import AnalysisResult, Comparison
from ablens.stats import (
    BootstrapResult,
    MannWhitneyResult,
    Moments,
    PermutationResult,
    QuantileSummary,
    RankSummary,
    SRMResult,
    TestResult,
    adjust_pvalues,
    adjusted_confidence_level,
    bootstrap,
    cuped_test,
    fieller_interval,
    log_ratio_interval,
    mann_whitney_test,
    mean_test,
    permutation_test,
    proportion_test,
    quantile_bootstrap_test,
    quantile_summary_from_array,
    quantile_test,
    rank_summary_from_arrays,
    ratio_test,
    regression_adjusted_test,
    relative_interval,
    srm_test,
)

__all__ = [
    "AblensError",
    "AnalysisPlan",
    "AnalysisResult",
    "BootstrapResult",
    "Comparison",
    "ConfigError",
    "DataError",
    "DataReport",
    "HealthCheck",
    "InputError",
    "MannWhitney",
    "MannWhitneyResult",
    "Mean",
    "Metric",
    "MetricSpec",
    "MissingDependencyError",
    "Moments",
    "MomentsByArm",
    "PermutationResult",
    "PlanError",
    "PostStratified",
    "Proportion",
    "Quantile",
    "QuantileSummary",
    "RankSummary",
    "Ratio",
    "SRMResult",
    "TestResult",
    "Verdict",
    "__version__",
    "adjust_pvalues",
    "adjusted_confidence_level",
    "aggregate_events",
    "analyze",
    "bootstrap",
    "compute_moments",
    "compute_quantile_summaries",
    "compute_rank_summary",
    "cumulative_moments",
    "cuped_test",
    "data_fingerprint",
    "fieller_interval",
    "load_plan",
    "log_ratio_interval",
    "mann_whitney_test",
    "mean_test",
    "parse_plan",
    "permutation_test",
    "plan_from_dict",
    "plan_json_schema",
    "proportion_test",
    "quantile_bootstrap_test",
    "quantile_summary_from_array",
    "quantile_test",
    "rank_summary_from_arrays",
    "ratio_test",
    "regression_adjusted_test",
    "relative_interval",
    "render_report",
    "run_plan",
    "srm_test",
    "verdict",
    "write_report",
]
