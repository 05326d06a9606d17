"""Small samples: when a large-sample result should not be trusted, said in its ``notes``.

Several tests refer their statistic to the standard normal (or the chi-square with 1 degree of
freedom) because that is its distribution *as the arms grow*: the delta-method ratio, the z test
of means, the CUPED and regression-adjusted z tests, the post-stratified z test, the quantile
test, the Mann-Whitney normal approximation, and the z and chi-square tests of proportions. With
a handful of units those p-values are far too small: with 5 units against 4, a ratio's delta
method gives p = 3.1e-7 where the same statistic referred to Student's t with Welch's degrees of
freedom gives p = 0.0029.

`small_sample_note` says so, in words and with the fix, when an arm is below the size the
approximation needs; `ablens.analyze` adds it to every comparison's (and every segment's)
``notes``, which every rendering shows (text, markdown, HTML, the report, the CLI, JSON).

The sizes, defined here once:

* `MIN_UNITS_PER_ARM` = 30 units in each arm for every normal-reference test of a mean, ratio,
  adjusted mean, quantile or rank sum. Why 30: when the statistic actually follows Student's t
  with ``2n - 2`` degrees of freedom (normal data, equal arms), a test that uses the normal
  reference at a nominal 5% rejects 5.5% of the time at 30 units per arm, 6.6% at 10 and 8.6%
  at 5; at 30 the error is within a tenth of the level, below it grows quickly. Skewed data
  (revenue, ratios of counts) need more, not fewer, units: 30 is a floor, not a guarantee.
* `MIN_EXPECTED_COUNT` = 5 expected successes and failures in each arm under the null (the
  pooled rate) for the z and chi-square tests of a proportion: the rule R's ``chisq.test``
  warns with ("Chi-squared approximation may be incorrect") when any expected cell count of
  the 2x2 table is below 5 (Cochran, 1954). A rate test needs no other minimum size.

Results with an exact or t reference (Welch, Student, a ratio or adjusted test with
``reference="t"``, Fisher's exact test, the bootstrap) get no note.

>>> from ablens import mean_test
>>> r = mean_test(8, 10.0, 4.0, 9, 12.0, 5.0, test="z")
>>> print(small_sample_note(r, 8, 9))  # doctest: +NORMALIZE_WHITESPACE
small sample: 8 control and 9 treatment units, fewer than 30 in an arm; this z test refers
its statistic to the normal distribution, so its p-value and interval are too optimistic at
this size: use test='welch' (Welch's t test)
>>> small_sample_note(mean_test(8, 10.0, 4.0, 9, 12.0, 5.0), 8, 9) is None  # Welch: no note
True
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ablens.stats.result import TestResult

__all__ = [
    "MIN_EXPECTED_COUNT",
    "MIN_UNITS_PER_ARM",
    "NOTE_PREFIX",
    "small_sample_note",
    "with_small_sample_note",
]

#: Fewest units per arm for a normal-reference (asymptotic) test of a mean, ratio, adjusted
#: mean, quantile or rank sum to be read without a small-sample warning.
MIN_UNITS_PER_ARM: Final = 30

#: Fewest expected successes and failures per arm (under the pooled rate) for the z and
#: chi-square tests of a proportion, as R's ``chisq.test`` warns below 5.
MIN_EXPECTED_COUNT: Final = 5

#: How every small-sample note begins, so that a rendering can flag the row it belongs to.
NOTE_PREFIX: Final = "small sample: "

_ADJUSTED_FIX: Final = "use the t reference (reference='t') or drop the covariates (Welch's t test)"

#: Tests whose reference is the normal distribution as the arms grow, by the name they record
#: in `TestResult.test` (a variance option's suffix such as "-HC2" removed), and what to use
#: instead with few units. Their t-reference variants record a ``df`` and are never noted.
_NORMAL_APPROXIMATIONS: Final = {
    "delta": "use reference='t' (Welch-Satterthwaite degrees of freedom)",
    "z": "use test='welch' (Welch's t test)",
    "cuped": _ADJUSTED_FIX,
    "ancova": _ADJUSTED_FIX,
    "common-slope": _ADJUSTED_FIX,
    "post-stratified": "merge the strata or drop them (Welch's t test)",
    "post-stratified-cuped": "merge the strata or drop them (Welch's t test)",
    "quantile": "use the bootstrap (quantile_bootstrap_test) or compare means",
    "mann-whitney": (
        "use an exact rank test (R's wilcox.test(exact = TRUE)) or a permutation test "
        "(ablens.permutation_test)"
    ),
}

#: The suffix a heteroskedasticity-consistent variance adds to an adjusted test's name.
_VARIANCE_SUFFIX: Final = re.compile(r"-HC[0-3]$")

#: Tests of a proportion read through a normal or chi-square approximation.
_RATE_APPROXIMATIONS: Final = ("z", "chi2", "chi2-yates")


def small_sample_note(
    result: TestResult, control_count: int, treatment_count: int, *, rate: bool = False
) -> str | None:
    """The warning for a large-sample result computed from too few units, or None.

    Args:
        result: A comparison; its ``test`` and ``df`` say whether it is asymptotic.
        control_count: Units in the control arm.
        treatment_count: Units in the treatment arm.
        rate: True when ``result`` compares proportions (its estimates are the two rates):
            the z and chi-square tests are then judged by their expected counts.

    Returns:
        One sentence (lower case, no final period, as `TestResult.notes` holds them) naming
        the sizes, the threshold and the fix; None when the result needs no warning.

    Examples:
        >>> from ablens import proportion_test
        >>> r = proportion_test(1, 40, 6, 40)
        >>> print(small_sample_note(r, 40, 40, rate=True))  # doctest: +NORMALIZE_WHITESPACE
        small sample: the 2x2 table's smallest expected count is 3.5, below 5; the z test's
        normal approximation is unreliable at this size: use test='fisher' (Fisher's exact
        test)
        >>> small_sample_note(proportion_test(1, 40, 6, 40, test="fisher"), 40, 40, rate=True)
    """
    if rate and result.test in _RATE_APPROXIMATIONS:
        total = control_count + treatment_count
        successes = round(result.control_estimate * control_count) + round(
            result.treatment_estimate * treatment_count
        )
        # Expected count of a cell = row total x column total / total, as chisq.test computes
        # it (integers multiplied first: a count of exactly 5 stays 5).
        smallest = min(control_count, treatment_count) * min(successes, total - successes) / total
        if smallest >= MIN_EXPECTED_COUNT:
            return None
        return (
            f"{NOTE_PREFIX}the 2x2 table's smallest expected count is {smallest:.3g}, below "
            f"{MIN_EXPECTED_COUNT}; the {result.test} test's "
            f"{'chi-square' if result.test.startswith('chi2') else 'normal'} approximation is "
            "unreliable at this size: use test='fisher' (Fisher's exact test)"
        )
    fix = _NORMAL_APPROXIMATIONS.get(_VARIANCE_SUFFIX.sub("", result.test))
    if fix is None or result.df is not None:
        return None
    if min(control_count, treatment_count) >= MIN_UNITS_PER_ARM:
        return None
    return (
        f"{NOTE_PREFIX}{control_count:,} control and {treatment_count:,} treatment units, "
        f"fewer than {MIN_UNITS_PER_ARM} in an arm; this {result.test} test refers its "
        "statistic to the normal distribution, so its p-value and interval are too optimistic "
        f"at this size: {fix}"
    )


def with_small_sample_note(
    result: TestResult, control_count: int, treatment_count: int, *, rate: bool = False
) -> TestResult:
    """``result`` with `small_sample_note` appended to its ``notes`` (once), if there is one.

    Examples:
        >>> from ablens import mean_test
        >>> r = with_small_sample_note(mean_test(8, 10.0, 4.0, 9, 12.0, 5.0, test="z"), 8, 9)
        >>> len(r.notes), len(with_small_sample_note(r, 8, 9).notes)
        (1, 1)
    """
    note = small_sample_note(result, control_count, treatment_count, rate=rate)
    if note is None or note in result.notes:
        return result
    return dataclasses.replace(result, notes=(*result.notes, note))
