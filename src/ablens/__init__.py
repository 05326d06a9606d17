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
from ablens.errors import AblensError, ConfigError, DataError, InputError, MissingDependencyError
from ablens.metrics import Mean, Metric, Proportion
from ablens.results import AnalysisResult, Comparison
from ablens.stats import (
    Moments,
    SRMResult,
    TestResult,
    adjust_pvalues,
    adjusted_confidence_level,
    fieller_interval,
    log_ratio_interval,
    mean_test,
    proportion_test,
    relative_interval,
    srm_test,
)

__all__ = [
    "AblensError",
    "AnalysisResult",
    "Comparison",
    "ConfigError",
    "DataError",
    "InputError",
    "Mean",
    "Metric",
    "MissingDependencyError",
    "Moments",
    "Proportion",
    "SRMResult",
    "TestResult",
    "__version__",
    "adjust_pvalues",
    "adjusted_confidence_level",
    "analyze",
    "fieller_interval",
    "log_ratio_interval",
    "mean_test",
    "proportion_test",
    "relative_interval",
    "srm_test",
]
