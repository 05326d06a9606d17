"""The option vocabularies of the layers above the statistics, each defined once.

Every string option ablens takes is a `typing.Literal` with a tuple of its values beside it; the
plan parser, the JSON Schema, the command line and the web page all read these tuples, so a
value added here reaches every face. The statistical vocabularies (``Alternative``, ``MeanTest``,
``ProportionTest``, ``SRMMethod``, ``CorrectionMethod``, ``RelativeMethod``, ``MarginType``,
``VcovType``, ``ReferenceDistribution``) live with the statistics that define them and are
re-exported here, so that one import finds them all. The alpha-spending names (``SpendingName``,
``SPENDING_NAMES``, ``DEFAULT_SPENDING``) are defined here, since every face needs them without
loading the group-sequential maths:

>>> from ablens.typing import ROLES, SEQUENTIAL_METHODS, Alternative
>>> ROLES
('primary', 'secondary', 'guardrail')
>>> SEQUENTIAL_METHODS[1:]
('group-sequential', 'msprt', 'confidence-sequence')

This module imports nothing from ablens at start-up (the statistics' vocabularies load on first
use), so every layer may import it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from ablens.stats._inference import (
        ALTERNATIVES,
        REFERENCE_DISTRIBUTIONS,
        Alternative,
        ReferenceDistribution,
    )
    from ablens.stats.adjusted import VCOV_TYPES, VcovType
    from ablens.stats.means import MEAN_TESTS, MeanTest
    from ablens.stats.multiplicity import CORRECTION_METHODS, CorrectionMethod
    from ablens.stats.proportions import PROPORTION_TESTS, ProportionTest
    from ablens.stats.relative import RELATIVE_METHODS, RelativeMethod
    from ablens.stats.result import MarginType
    from ablens.stats.srm import SRM_METHODS, SRMMethod

__all__ = [
    "ADJUSTMENTS",
    "ALTERNATIVES",
    "BAYESIAN_PRIORS",
    "CHECK_STATUSES",
    "CORRECTION_METHODS",
    "DEFAULT_SPENDING",
    "DIRECTIONS",
    "FAMILIES",
    "MEAN_TESTS",
    "METRIC_NEEDS",
    "PROPORTION_TESTS",
    "REFERENCE_DISTRIBUTIONS",
    "RELATIVE_METHODS",
    "ROLES",
    "SEQUENTIAL_DESIGNS",
    "SEQUENTIAL_METHODS",
    "SPENDING_NAMES",
    "SRM_METHODS",
    "VCOV_TYPES",
    "VERDICT_LABELS",
    "Adjustment",
    "Alternative",
    "BayesianPrior",
    "CheckStatus",
    "CorrectionMethod",
    "Direction",
    "Family",
    "MarginType",
    "MeanTest",
    "MetricNeeds",
    "ProportionTest",
    "ReferenceDistribution",
    "RelativeMethod",
    "Role",
    "SRMMethod",
    "SequentialDesign",
    "SequentialMethod",
    "SpendingName",
    "VcovType",
    "VerdictLabel",
]

Role = Literal["primary", "secondary", "guardrail"]
#: A metric's role: "primary" decides the verdict, a "guardrail" must not get worse.
ROLES: tuple[Role, ...] = ("primary", "secondary", "guardrail")

Direction = Literal["increase", "decrease"]
#: Which way of a metric is good.
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")

Adjustment = Literal["cuped", "regression", "common-slope"]
#: Covariate adjustment: CUPED (one covariate, pooled slope), regression (Lin 2013: any number of
#: covariates, slopes per arm) or common-slope (ANCOVA, R's ``lm(y ~ treated + x)``: one slope).
ADJUSTMENTS: tuple[Adjustment, ...] = ("cuped", "regression", "common-slope")

Family = Literal["metric", "experiment", "primary"]
#: Which comparisons a multiple-testing correction treats together.
FAMILIES: tuple[Family, ...] = ("metric", "experiment", "primary")

SequentialMethod = Literal["none", "group-sequential", "msprt", "confidence-sequence"]
#: How a result is read over time: once ("none"), or at every look by a sequential method.
SEQUENTIAL_METHODS: tuple[SequentialMethod, ...] = (
    "none",
    "group-sequential",
    "msprt",
    "confidence-sequence",
)

SequentialDesign = Literal["group-sequential", "msprt", "confidence-sequence"]
#: The sequential designs a power plan sizes (`SEQUENTIAL_METHODS` without "none").
SEQUENTIAL_DESIGNS: tuple[SequentialDesign, ...] = (
    "group-sequential",
    "msprt",
    "confidence-sequence",
)

SpendingName = Literal["obrien-fleming", "pocock", "hsd", "power"]
#: The alpha-spending families of a group-sequential design (`ablens.group_sequential_bounds`).
SPENDING_NAMES: tuple[SpendingName, ...] = ("obrien-fleming", "pocock", "hsd", "power")
#: The spending family every face and plan uses unless told otherwise.
DEFAULT_SPENDING: SpendingName = "obrien-fleming"

BayesianPrior = Literal["flat"]
#: The priors an analysis plan may name under ``bayesian: {prior: ...}``.
BAYESIAN_PRIORS: tuple[BayesianPrior, ...] = ("flat",)

MetricNeeds = Literal["moments", "strata", "table"]
#: What a metric kind reads: per-arm moments, per-stratum moments, or the table itself.
METRIC_NEEDS: tuple[MetricNeeds, ...] = ("moments", "strata", "table")

VerdictLabel = Literal[
    "Ship",
    "Roll back",
    "Inconclusive — keep running",
    "No detectable effect",
    "Don't trust — fix the data",
]
#: The fixed vocabulary of decisions, in order of precedence (fix the data first).
VERDICT_LABELS: tuple[VerdictLabel, ...] = (
    "Don't trust — fix the data",
    "Inconclusive — keep running",
    "No detectable effect",
    "Roll back",
    "Ship",
)

CheckStatus = Literal["passed", "failed", "incomplete", "warning"]
#: A health gate's state: "failed" means something is wrong, "incomplete" not all data are in,
#: "warning" something to look at that does not block the verdict (a segment's split).
CHECK_STATUSES: tuple[CheckStatus, ...] = ("passed", "failed", "incomplete", "warning")

#: The statistics' vocabularies, re-exported from their homes on first use.
_STATS_VOCABULARY = {
    "ALTERNATIVES": "ablens.stats._inference",
    "Alternative": "ablens.stats._inference",
    "REFERENCE_DISTRIBUTIONS": "ablens.stats._inference",
    "ReferenceDistribution": "ablens.stats._inference",
    "MEAN_TESTS": "ablens.stats.means",
    "MeanTest": "ablens.stats.means",
    "CORRECTION_METHODS": "ablens.stats.multiplicity",
    "CorrectionMethod": "ablens.stats.multiplicity",
    "PROPORTION_TESTS": "ablens.stats.proportions",
    "ProportionTest": "ablens.stats.proportions",
    "SRM_METHODS": "ablens.stats.srm",
    "SRMMethod": "ablens.stats.srm",
    "RELATIVE_METHODS": "ablens.stats.relative",
    "RelativeMethod": "ablens.stats.relative",
    "MarginType": "ablens.stats.result",
    "VCOV_TYPES": "ablens.stats.adjusted",
    "VcovType": "ablens.stats.adjusted",
}


def __getattr__(name: str) -> object:
    module = _STATS_VOCABULARY.get(name)
    if module is None:
        raise AttributeError(f"module 'ablens.typing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
