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

from typing import TYPE_CHECKING as _TYPE_CHECKING

from ablens._version import __version__
from ablens.analysis import analyze
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
from ablens.results import AnalysisResult, Comparison
from ablens.sequential import LookRow, LooksResult, analyze_looks
from ablens.stats import (
    AlwaysValidDesign,
    AlwaysValidLook,
    AlwaysValidResult,
    BayesianResult,
    BestArmResult,
    BetaBinomialResult,
    BootstrapResult,
    EffectLook,
    MannWhitneyResult,
    Moments,
    NormalPrior,
    PermutationResult,
    PowerSolution,
    QuantileSummary,
    RankSummary,
    SequentialBounds,
    SequentialLook,
    SequentialResult,
    SequentialSRMLook,
    SequentialSRMResult,
    SpendingFunction,
    SRMResult,
    TestResult,
    adjust_pvalues,
    adjusted_confidence_level,
    always_valid_design,
    always_valid_inflation,
    asymptotic_confidence_sequence,
    bayesian_mean_test,
    bayesian_proportion_test,
    beta_best_arm,
    bootstrap,
    cuped_test,
    default_tau,
    empirical_prior,
    fieller_interval,
    group_sequential_bounds,
    group_sequential_test,
    log_ratio_interval,
    mann_whitney_test,
    mde_curve,
    mean_test,
    msprt,
    normal_best_arm,
    normal_posterior,
    permutation_test,
    power_curve,
    proportion_test,
    quantile_bootstrap_test,
    quantile_summary_from_array,
    quantile_test,
    rank_summary_from_arrays,
    ratio_test,
    regression_adjusted_test,
    relative_interval,
    sample_size_inflation,
    sequential_srm_test,
    solve_power,
    spending_function,
    srm_test,
)

if _TYPE_CHECKING:
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
    from ablens.planning import HistorySummary, Plan, PlanDay, plan, plan_from_history
    from ablens.report import data_fingerprint, render_report, write_report

# Faces (plans, planning, reports) load on first use: they are large modules that a notebook
# analysis or a pipeline step never needs, and `import ablens` stays light (< 0.3 s).
_LAZY = {
    "AnalysisPlan": "ablens.config",
    "HealthCheck": "ablens.config",
    "MetricSpec": "ablens.config",
    "PlanError": "ablens.config",
    "Verdict": "ablens.config",
    "load_plan": "ablens.config",
    "parse_plan": "ablens.config",
    "plan_from_dict": "ablens.config",
    "plan_json_schema": "ablens.config",
    "run_plan": "ablens.config",
    "verdict": "ablens.config",
    "HistorySummary": "ablens.planning",
    "Plan": "ablens.planning",
    "PlanDay": "ablens.planning",
    "plan": "ablens.planning",
    "plan_from_history": "ablens.planning",
    "data_fingerprint": "ablens.report",
    "render_report": "ablens.report",
    "write_report": "ablens.report",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ablens' has no attribute {name!r}")
    import importlib  # noqa: PLC0415 - only on first access of a lazy name

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AblensError",
    "AlwaysValidDesign",
    "AlwaysValidLook",
    "AlwaysValidResult",
    "AnalysisPlan",
    "AnalysisResult",
    "BayesianResult",
    "BestArmResult",
    "BetaBinomialResult",
    "BootstrapResult",
    "Comparison",
    "ConfigError",
    "DataError",
    "DataReport",
    "EffectLook",
    "HealthCheck",
    "HistorySummary",
    "InputError",
    "LookRow",
    "LooksResult",
    "MannWhitney",
    "MannWhitneyResult",
    "Mean",
    "Metric",
    "MetricSpec",
    "MissingDependencyError",
    "Moments",
    "MomentsByArm",
    "NormalPrior",
    "PermutationResult",
    "Plan",
    "PlanDay",
    "PlanError",
    "PostStratified",
    "PowerSolution",
    "Proportion",
    "Quantile",
    "QuantileSummary",
    "RankSummary",
    "Ratio",
    "SRMResult",
    "SequentialBounds",
    "SequentialLook",
    "SequentialResult",
    "SequentialSRMLook",
    "SequentialSRMResult",
    "SpendingFunction",
    "TestResult",
    "Verdict",
    "__version__",
    "adjust_pvalues",
    "adjusted_confidence_level",
    "aggregate_events",
    "always_valid_design",
    "always_valid_inflation",
    "analyze",
    "analyze_looks",
    "asymptotic_confidence_sequence",
    "bayesian_mean_test",
    "bayesian_proportion_test",
    "beta_best_arm",
    "bootstrap",
    "compute_moments",
    "compute_quantile_summaries",
    "compute_rank_summary",
    "cumulative_moments",
    "cuped_test",
    "data_fingerprint",
    "default_tau",
    "empirical_prior",
    "fieller_interval",
    "group_sequential_bounds",
    "group_sequential_test",
    "load_plan",
    "log_ratio_interval",
    "mann_whitney_test",
    "mde_curve",
    "mean_test",
    "msprt",
    "normal_best_arm",
    "normal_posterior",
    "parse_plan",
    "permutation_test",
    "plan",
    "plan_from_dict",
    "plan_from_history",
    "plan_json_schema",
    "power_curve",
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
    "sample_size_inflation",
    "sequential_srm_test",
    "solve_power",
    "spending_function",
    "srm_test",
    "verdict",
    "write_report",
]
