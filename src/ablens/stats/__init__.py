"""Pure statistics on per-arm moments: no dataframes, no SQL, only numpy and scipy."""

from ablens.stats.means import MeanTest, mean_test
from ablens.stats.moments import Moments
from ablens.stats.multiplicity import CorrectionMethod, adjust_pvalues, adjusted_confidence_level
from ablens.stats.proportions import ProportionTest, proportion_test
from ablens.stats.relative import (
    RelativeMethod,
    fieller_interval,
    log_ratio_interval,
    relative_interval,
)
from ablens.stats.result import MarginType, TestResult
from ablens.stats.srm import SRMResult, srm_test

__all__ = [
    "CorrectionMethod",
    "MarginType",
    "MeanTest",
    "Moments",
    "ProportionTest",
    "RelativeMethod",
    "SRMResult",
    "TestResult",
    "adjust_pvalues",
    "adjusted_confidence_level",
    "fieller_interval",
    "log_ratio_interval",
    "mean_test",
    "proportion_test",
    "relative_interval",
    "srm_test",
]
