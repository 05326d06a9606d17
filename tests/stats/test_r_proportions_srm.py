"""Agreement of the proportion tests and the sample-ratio checks with R.

The fixture ``tests/fixtures/r/proportions_srm.json`` is written by
``Rscript tests/fixtures/r/proportions_srm.R`` (sources of every value in its header):
``prop.test(correct = FALSE)`` and the written-out Wald formula for the pooled and unpooled z
tests, ``fisher.test`` for Fisher's p-value, odds ratio and its interval, ``binom.test``,
a plain-R enumeration of the exact multinomial test, ``chisq.test``, and the power of the
sample-ratio check (``pchisq(ncp = )`` and brute-force sums over the rejection regions).

Every number agrees to 1e-9 relative (1e-12 absolute) except the odds ratio and its interval
from stock ``fisher.test``, which R finds with ``uniroot`` at its default tolerance
(``.Machine$double.eps^0.25``, about 1.2e-4, on the scale ``t = OR`` or ``1 / OR`` in (0, 1]):
those are compared at that tolerance on that scale, and to 1e-9 relative with the values of
``fisher.test``'s own code run with a tight root finder (``*_tight`` in the fixture).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from ablens import proportion_test, srm_power, srm_test
from rfixtures import load_r_fixture

RTOL = 1e-9
ATOL = 1e-12
REFERENCE = load_r_fixture("proportions_srm.json")
TABLES = REFERENCE["proportion_tables"]
UNIROOT_TOL = REFERENCE["generated_with"]["uniroot_default_tol"]


def _close(actual: float, expected: float, rtol: float = RTOL) -> bool:
    if math.isnan(expected) or math.isinf(expected):
        return actual == expected or (math.isnan(actual) and math.isnan(expected))
    return math.isclose(actual, expected, rel_tol=rtol, abs_tol=ATOL)


def _case_id(case: dict[str, Any]) -> str:
    return f"{case['table']}-{case['alternative']}-{case['confidence_level']}"


def _run(case: dict[str, Any], test: str) -> Any:
    table = TABLES[case["table"]]
    return proportion_test(
        table["x_c"],
        table["n_c"],
        table["x_t"],
        table["n_t"],
        test=test,  # type: ignore[arg-type]
        alternative=case["alternative"],
        confidence_level=case["confidence_level"],
    )


def test_fixture_covers_the_intended_cases() -> None:
    """Guard against a regenerated fixture silently losing its hard cases."""
    cases = REFERENCE["proportion_tests"]
    assert {c["alternative"] for c in cases} == {"two-sided", "greater", "less"}
    estimates = [c["fisher"]["estimate"] for c in cases]
    assert 0.0 in estimates  # zero cells
    assert math.inf in estimates
    bounds = [b for c in cases for b in c["fisher"]["conf_int"]]
    assert 0.0 in bounds
    assert math.inf in bounds
    assert any("z" not in c for c in cases)  # a table where the pooled test is undefined
    assert {len(c["counts"]) for c in REFERENCE["multinomial_tests"]} == {2, 3, 4, 5}


@pytest.mark.parametrize("case", REFERENCE["proportion_tests"], ids=_case_id)
def test_both_standard_errors_match_r(case: dict[str, Any]) -> None:
    r = _run(case, "fisher")
    assert _close(r.pooled_standard_error, case["pooled_standard_error"])
    assert _close(r.unpooled_standard_error, case["unpooled_standard_error"])
    assert r.unpooled_standard_error == r.standard_error


@pytest.mark.parametrize(
    "case", [c for c in REFERENCE["proportion_tests"] if "z" in c], ids=_case_id
)
def test_pooled_z_matches_prop_test(case: dict[str, Any]) -> None:
    r = _run(case, "z")
    expected = case["z"]
    assert _close(r.statistic, expected["statistic"])
    assert _close(r.p_value, expected["p_value"])
    assert _close(r.effect_ci_lower, expected["conf_int"][0])
    assert _close(r.effect_ci_upper, expected["conf_int"][1])


@pytest.mark.parametrize(
    "case", [c for c in REFERENCE["proportion_tests"] if "z_unpooled" in c], ids=_case_id
)
def test_unpooled_z_matches_the_wald_formula(case: dict[str, Any]) -> None:
    r = _run(case, "z-unpooled")
    expected = case["z_unpooled"]
    assert r.test == "z-unpooled"
    assert _close(r.statistic, expected["statistic"])
    assert _close(r.p_value, expected["p_value"])
    assert _close(r.effect_ci_lower, expected["conf_int"][0])
    assert _close(r.effect_ci_upper, expected["conf_int"][1])


def _to_unit_scale(odds_ratio: float) -> float:
    """uniroot's scale in fisher.test: the odds ratio if at most 1, else its inverse."""
    return odds_ratio if odds_ratio <= 1 else 1 / odds_ratio


@pytest.mark.parametrize("case", REFERENCE["proportion_tests"], ids=_case_id)
def test_fisher_matches_fisher_test(case: dict[str, Any]) -> None:
    r = _run(case, "fisher")
    expected = case["fisher"]
    assert _close(r.p_value, expected["p_value"])
    assert r.odds_ratio is not None
    assert r.odds_ratio_ci is not None
    # Exact to 1e-9 against fisher.test's own code with a tight root finder.
    assert _close(r.odds_ratio, expected["estimate_tight"])
    assert _close(r.odds_ratio_ci[0], expected["conf_int_tight"][0])
    assert _close(r.odds_ratio_ci[1], expected["conf_int_tight"][1])
    # Against stock fisher.test: equal edges (0, Inf), else within uniroot's tolerance.
    for ours, theirs in zip(
        (r.odds_ratio, *r.odds_ratio_ci), (expected["estimate"], *expected["conf_int"]), strict=True
    ):
        if theirs in (0.0, math.inf):
            assert ours == theirs
        else:
            assert abs(_to_unit_scale(ours) - _to_unit_scale(theirs)) <= UNIROOT_TOL


@pytest.mark.parametrize(
    "case", REFERENCE["binomial_tests"], ids=lambda c: f"{c['x']}-{c['n']}-{c['p']}"
)
def test_exact_binomial_matches_binom_test(case: dict[str, Any]) -> None:
    x, n, p = int(case["x"]), int(case["n"]), case["p"]
    r = srm_test([x, n - x], [p, 1 - p], method="binomial")
    assert r.method == "binomial"
    assert _close(r.p_value, case["p_value"])
    # The same test from the other arm's side.
    mirrored = srm_test([n - x, x], [1 - p, p], method="binomial")
    assert _close(mirrored.p_value, case["p_value"])


@pytest.mark.parametrize("case", REFERENCE["multinomial_tests"], ids=lambda c: str(c["counts"]))
def test_exact_multinomial_matches_enumeration_in_r(case: dict[str, Any]) -> None:
    counts = [int(c) for c in case["counts"]]
    r = srm_test(counts, case["weights"], method="multinomial")
    assert r.method == "multinomial"
    assert _close(r.p_value, case["p_value"])
    auto = srm_test(counts, case["weights"], method="auto")
    assert auto.method == ("binomial" if len(counts) == 2 else "multinomial")
    assert _close(auto.p_value, case["p_value"])
    chi2 = srm_test(counts, case["weights"])
    assert chi2.method == "chi2"
    assert _close(chi2.p_value, case["chisq_p_value"])


@pytest.mark.parametrize("case", REFERENCE["chisq_tests"], ids=lambda c: str(c["counts"]))
def test_auto_falls_back_to_chisq_test_beyond_the_budget(case: dict[str, Any]) -> None:
    r = srm_test([int(c) for c in case["counts"]], case["weights"], method="auto")
    assert r.method == "chi2"
    assert _close(r.statistic, case["statistic"])
    assert _close(r.p_value, case["p_value"])


@pytest.mark.parametrize("case", REFERENCE["chisq_power"], ids=lambda c: f"{c['n']}-{c['shares']}")
def test_chi2_power_matches_pchisq(case: dict[str, Any]) -> None:
    power = srm_power(int(case["n"]), case["shares"], case["weights"], alpha=case["alpha"])
    assert _close(power, case["power"])


@pytest.mark.parametrize(
    "case", REFERENCE["binomial_power"], ids=lambda c: f"{c['n']}-{c['share']}-{c['alpha']}"
)
def test_binomial_power_matches_brute_force(case: dict[str, Any]) -> None:
    power = srm_power(
        int(case["n"]),
        case["share"],
        [case["weight"], 1 - case["weight"]],
        alpha=case["alpha"],
        method="binomial",
    )
    assert _close(power, case["power"])


@pytest.mark.parametrize(
    "case", REFERENCE["multinomial_power"], ids=lambda c: f"{c['n']}-{c['shares']}"
)
def test_multinomial_power_matches_brute_force(case: dict[str, Any]) -> None:
    power = srm_power(
        int(case["n"]), case["shares"], case["weights"], alpha=case["alpha"], method="multinomial"
    )
    assert _close(power, case["power"])
