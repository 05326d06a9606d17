"""Pure statistics on per-arm moments: no dataframes, no SQL, only numpy and scipy."""

from ablens.stats.adjusted import cuped_test, regression_adjusted_test
from ablens.stats.means import MeanTest, mean_test
from ablens.stats.moments import Moments
from ablens.stats.multiplicity import CorrectionMethod, adjust_pvalues, adjusted_confidence_level
from ablens.stats.nonparametric import (
    MannWhitneyResult,
    RankSummary,
    mann_whitney_test,
    rank_summary_from_arrays,
)
from ablens.stats.proportions import ProportionTest, proportion_test
from ablens.stats.quantiles import (
    QuantileSummary,
    quantile_bootstrap_test,
    quantile_summary_from_array,
    quantile_test,
)
from ablens.stats.ratio import ratio_estimate, ratio_test
from ablens.stats.relative import (
    RelativeMethod,
    fieller_interval,
    log_ratio_interval,
    relative_interval,
)
from ablens.stats.resampling import (
    BootstrapMethod,
    BootstrapResult,
    PermutationResult,
    bootstrap,
    permutation_test,
)
from ablens.stats.result import MarginType, TestResult
from ablens.stats.srm import SRMResult, srm_test
from ablens.stats.stratified import post_stratified_test

__all__ = [
    "BootstrapMethod",
    "BootstrapResult",
    "CorrectionMethod",
    "MannWhitneyResult",
    "MarginType",
    "MeanTest",
    "Moments",
    "PermutationResult",
    "ProportionTest",
    "QuantileSummary",
    "RankSummary",
    "RelativeMethod",
    "SRMResult",
    "TestResult",
    "adjust_pvalues",
    "adjusted_confidence_level",
    "bootstrap",
    "cuped_test",
    "fieller_interval",
    "log_ratio_interval",
    "mann_whitney_test",
    "mean_test",
    "permutation_test",
    "post_stratified_test",
    "proportion_test",
    "quantile_bootstrap_test",
    "quantile_summary_from_array",
    "quantile_test",
    "rank_summary_from_arrays",
    "ratio_estimate",
    "ratio_test",
    "regression_adjusted_test",
    "relative_interval",
    "srm_test",
]
