"""Unequal groups, chi-square power and conditional power against R (issue 14, item 11).

The fixture ``tests/fixtures/r/power_gaps.json`` is written by
``Rscript tests/fixtures/r/power_gaps.R`` (run from the repository root): pwr's
``pwr.t2n.test``, ``pwr.2p2n.test``, ``pwr.chisq.test``, ``ES.w1`` and ``ES.w2``, the normal
designs and the B-value conditional power written out in plain R, and rpact's
``getConditionalPower``. Every number agrees to 1e-9 relative; solved sizes are compared
with R's root found at tol 1e-13, with the power at the solved size, and rounded up exactly.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import ablens
from ablens.errors import InputError
from ablens.render import format_share
from ablens.stats import (
    ConditionalPower,
    chisq_power,
    cohen_w,
    cohen_w_table,
    conditional_power,
    conditional_power_from_result,
    mean_test,
    power_curve,
    solve_n_treatment,
    solve_power,
)
from rfixtures import load_r_fixture

RTOL = 1e-9
REFERENCE: dict[str, Any] = load_r_fixture("power_gaps.json")
ALTERNATIVE = {"two.sided": "two-sided", "greater": "greater", "less": "less"}


def _close(actual: float, expected: float, rtol: float = RTOL) -> bool:
    return actual == pytest.approx(expected, rel=rtol, abs=1e-15)


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["id"] for case in cases]


# ---------------------------------------------------------------------------- allocation ratio
@pytest.mark.parametrize("case", REFERENCE["ratio"], ids=_ids(REFERENCE["ratio"]))
def test_ratio_solves_the_first_group_as_pwr(case):
    options: dict[str, Any] = {
        "ratio": case["ratio"],
        "alternative": ALTERNATIVE[case["alternative"]],
    }
    if case["kind"] == "t-test":
        options["strict"] = True  # pwr.t2n.test counts both tails
    solution = solve_power(
        case["kind"], n=None, effect=case["effect"], power=case["power"], **options
    )
    assert _close(solution.n, case["n"])
    assert math.ceil(solution.n) == math.ceil(case["n"])
    assert solution.n_per_arm[1] == pytest.approx(case["ratio"] * solution.n, rel=1e-15)
    # The power at R's root is R's power there, and the power at ours is the target.
    at_r = solve_power(case["kind"], n=case["n"], effect=case["effect"], power=None, **options)
    assert _close(at_r.power, case["power_at_n"])
    assert _close(solution.power, case["power"])


def test_ratio_is_the_split_it_implies():
    by_ratio = solve_power("mean", n=None, effect=0.2, power=0.8, sd=1.0, ratio=0.5, arms=3)
    by_split = solve_power("mean", n=None, effect=0.2, power=0.8, sd=1.0, split=(0.5, 0.25, 0.25))
    assert by_ratio.n == pytest.approx(by_split.n, rel=1e-14)
    assert by_ratio.n_per_arm[1] == pytest.approx(0.5 * by_ratio.n_per_arm[0], rel=1e-14)
    proportion = solve_power("proportion", n=None, effect=0.01, power=0.8, baseline=0.1, ratio=3)
    split = solve_power(
        "proportion", n=None, effect=0.01, power=0.8, baseline=0.1, split=(0.25, 0.75)
    )
    assert proportion.n == pytest.approx(split.n, rel=1e-12)


def test_ratio_one_is_equal_groups():
    equal = solve_power("t-test", n=None, effect=0.5, power=0.8, strict=True)
    ratio = solve_power("t-test", n=None, effect=0.5, power=0.8, strict=True, ratio=1.0)
    assert ratio.n == pytest.approx(equal.n, rel=1e-12)
    curve = power_curve("cohen-h", [50, 100], effect=0.3, ratio=2.0)
    assert curve[1] == pytest.approx(
        float(power_curve("cohen-h", 100, effect=0.3, n_treatment=200)), rel=1e-15
    )


# ---------------------------------------------------------------------------- second group
@pytest.mark.parametrize("case", REFERENCE["second_group"], ids=_ids(REFERENCE["second_group"]))
def test_second_group_given_the_first(case):
    options: dict[str, Any] = dict(case["design"] or {})
    options["alternative"] = ALTERNATIVE[case["alternative"]]
    if case["kind"] == "t-test":
        options["strict"] = True
    solution = solve_n_treatment(
        case["kind"],
        n_control=case["n_control"],
        effect=case["effect"],
        power=case["power"],
        **options,
    )
    n_treatment = solution.n_per_arm[1]
    assert solution.solved == "n_treatment"
    assert solution.n_per_arm[0] == case["n_control"]
    assert _close(n_treatment, case["n_treatment"])
    assert math.ceil(n_treatment) == math.ceil(case["n_treatment"])
    assert _close(solution.power, case["power"])
    if "pwr" in case:  # pwr's own root, at uniroot's default tolerance (~1e-4 absolute)
        assert n_treatment == pytest.approx(case["pwr"], abs=1e-3)
    if case["kind"] in ("mean", "proportion"):
        assert solution.n == pytest.approx(case["n_control"] + n_treatment, rel=1e-15)


@pytest.mark.parametrize("case", REFERENCE["caps"], ids=_ids(REFERENCE["caps"]))
def test_a_small_control_group_caps_the_power(case):
    with pytest.raises(InputError, match="caps the power") as error:
        solve_n_treatment(
            case["kind"],
            n_control=case["n_control"],
            effect=case["effect"],
            power=case["power"],
            alternative=ALTERNATIVE[case["alternative"]],
            **case["design"],
        )
    reported = float(re.search(r"caps the power at ([0-9.e-]+)", str(error.value)).group(1))
    assert reported == pytest.approx(case["cap"], rel=1e-5)  # printed with 6 digits


def test_the_ceiling_is_reached_just_above_the_cap():
    case = REFERENCE["caps"][0]
    options = dict(case["design"])
    below = solve_n_treatment(
        "mean",
        n_control=case["n_control"],
        effect=case["effect"],
        power=case["cap"] - 1e-3,
        **options,
    )
    assert below.n_per_arm[1] > 1e3 * case["n_control"] / 50


def test_solve_n_treatment_with_several_arms_sizes_each_treatment_arm():
    solution = solve_n_treatment(
        "mean", n_control=500, effect=0.3, power=0.8, sd=1.0, arms=3, correction="bonferroni"
    )
    n_c, n_t, n_t2 = solution.n_per_arm
    assert n_t == n_t2
    check = solve_power(
        "mean",
        n=solution.n,
        effect=0.3,
        power=None,
        sd=1.0,
        split=(n_c / solution.n, n_t / solution.n, n_t2 / solution.n),
        correction="bonferroni",
    )
    assert check.power == pytest.approx(0.8, rel=1e-12)


# ---------------------------------------------------------------------------- chi-square
@pytest.mark.parametrize("case", REFERENCE["chisq"], ids=_ids(REFERENCE["chisq"]))
def test_chisq_power_is_pwr_chisq_test(case):
    given, result = case["given"], case["result"]
    df = int(given["df"])
    if case["solve"] == "power":
        power = chisq_power(given["w"], given["N"], df, given["sig.level"])
        assert _close(power, result["power"])
        return
    values: dict[str, Any] = {
        "n": given.get("N"),
        "effect": given.get("w"),
        "power": given["power"],
        "alpha": given.get("sig.level"),
    }
    unknown = {"N": "n", "w": "effect", "sig.level": "alpha"}[case["solve"]]
    values[unknown] = None
    solution = solve_power("chi-square", df=df, **values)
    solved = getattr(solution, unknown)
    assert _close(solved, case["tight"])
    assert _close(solution.power, given["power"])
    if unknown == "n":
        assert math.ceil(solved) == math.ceil(case["tight"])
        assert math.ceil(solved) == math.ceil(result["N"])


def test_cohen_w_is_es_w():
    for case in REFERENCE["es_w"]["w1"]:
        assert _close(cohen_w(case["p0"], case["p1"]), case["w"])
    table_case = REFERENCE["es_w"]["w2"][0]
    # R's matrix has the arms as columns; ours as rows: w is the same either way.
    arms = np.asarray(table_case["table"])
    assert _close(cohen_w_table(arms), table_case["w"])
    assert _close(cohen_w_table(arms.T), table_case["w"])
    solution = solve_power("chi-square", n=None, effect=table_case["w"], power=0.8, df=2)
    assert _close(solution.n, table_case["n_for_80"], rtol=1e-6)  # pwr's default uniroot tol
    assert math.ceil(solution.n) == math.ceil(table_case["n_for_80"])


def test_chisq_power_is_vectorized_and_zero_effect_is_alpha():
    grid = chisq_power([0.0, 0.1, 0.2], 400, 2)
    assert grid[0] == pytest.approx(0.05, rel=1e-12)
    assert list(grid) == [float(chisq_power(w, 400, 2)) for w in (0.0, 0.1, 0.2)]


# ---------------------------------------------------------------------------- conditional power
def _cp_id(case: dict[str, Any]) -> str:
    drift = "trend" if case["drift"] is None else f"drift{case['drift']}"
    return f"{case['alternative']}-z{case['z']}-t{case['information_fraction']}-{drift}"


@pytest.mark.parametrize(
    "case", REFERENCE["conditional_power"], ids=[_cp_id(c) for c in REFERENCE["conditional_power"]]
)
def test_conditional_power_is_the_b_value_formula(case):
    value = conditional_power(
        case["z"],
        case["information_fraction"],
        drift=case["drift"],
        alpha=case["alpha"],
        alternative=ALTERNATIVE[case["alternative"]],
        critical_value=case["critical_value"],
    )
    assert _close(value, case["conditional_power"])


def test_conditional_power_matches_rpact_one_sample():
    case = REFERENCE["rpact_one_sample"]
    value = conditional_power(
        case["z"],
        case["information_fraction"],
        drift=case["drift"],
        alpha=0.025,
        alternative="greater",
    )
    assert _close(value, case["conditional_power"])
    assert _close(case["formula"], case["conditional_power"])


def test_conditional_power_from_result_matches_rpact_two_sample():
    case = REFERENCE["rpact_two_sample"]
    c, t = case["control"], case["treatment"]
    interim = mean_test(
        c["n"],
        c["mean"],
        c["variance"],
        t["n"],
        t["mean"],
        t["variance"],
        test="student",
        alternative="greater",
        confidence_level=1 - case["alpha"],
    )
    assert _close(interim.p_value, case["p_value"])
    result = conditional_power_from_result(
        interim, n=case["n"], n_planned=case["n_planned"], planned_effect=case["planned_effect"]
    )
    assert isinstance(result, ConditionalPower)
    assert _close(result.z, case["z"])
    assert result.critical_value == pytest.approx(1.959963984540054, rel=1e-15)
    assert _close(result.planned, case["conditional_power"])


def test_conditional_power_from_result_two_sided_and_less():
    # A z test: the statistic is exactly the interim z, so the current trend is closed form.
    interim = mean_test(5_000, 10.0, 25.0, 5_000, 10.12, 25.0, test="z")
    result = conditional_power_from_result(interim, n=10_000, n_planned=40_000, planned_effect=0.1)
    assert result.z == pytest.approx(interim.statistic, rel=1e-12)
    assert result.information_fraction == 0.25
    assert result.current_drift == pytest.approx(interim.statistic / 0.5, rel=1e-12)
    assert result.planned_drift == pytest.approx(0.1 / (interim.standard_error * 0.5), rel=1e-12)
    assert result.current_trend == pytest.approx(
        conditional_power(interim.statistic, 0.25), rel=1e-12
    )
    assert result.null == pytest.approx(conditional_power(interim.statistic, 0.25, drift=0.0))
    less = mean_test(5_000, 10.0, 25.0, 5_000, 9.9, 25.0, test="z", alternative="less")
    below = conditional_power_from_result(less, n=5_000, n_planned=10_000)
    assert below.z == pytest.approx(less.statistic, rel=1e-12)
    assert below.z < 0
    assert below.planned is None
    assert below.current_trend == pytest.approx(
        conditional_power(less.statistic, 0.5, alternative="less", alpha=0.05), rel=1e-12
    )
    assert "current trend" in str(result)
    assert "planned effect" in str(result)
    assert result.to_dict()["planned"] == result.planned


def _rpact_two_sample_conditional_power() -> tuple[ConditionalPower, dict[str, Any]]:
    case = REFERENCE["rpact_two_sample"]
    c, t = case["control"], case["treatment"]
    interim = mean_test(
        c["n"],
        c["mean"],
        c["variance"],
        t["n"],
        t["mean"],
        t["variance"],
        test="student",
        alternative="greater",
        confidence_level=1 - case["alpha"],
    )
    result = conditional_power_from_result(
        interim, n=case["n"], n_planned=case["n_planned"], planned_effect=case["planned_effect"]
    )
    return result, case


def test_conditional_power_records_carry_rpacts_numbers():
    result, case = _rpact_two_sample_conditional_power()
    records = result.to_records()
    assert [r["assumption"] for r in records] == ["current trend", "planned effect", "no effect"]
    assert _close(records[1]["conditional_power"], case["conditional_power"])
    assert _close(records[0]["z"], case["z"])
    shared = ("z", "information_fraction", "critical_value", "alternative")
    for record in records:
        assert {key: record[key] for key in shared} == {key: getattr(result, key) for key in shared}
    assert [(r["drift"], r["conditional_power"]) for r in records] == [
        (result.current_drift, result.current_trend),
        (result.planned_drift, result.planned),
        (0.0, result.null),
    ]


def test_conditional_power_frames_are_the_records():
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("polars")
    result, _ = _rpact_two_sample_conditional_power()
    records = result.to_records()
    frame = result.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    assert frame.to_dict("records") == records
    assert result.to_polars().to_dicts() == records
    # Without a planned effect there are two assumptions.
    interim = mean_test(5_000, 10.0, 25.0, 5_000, 9.9, 25.0, test="z", alternative="less")
    below = conditional_power_from_result(interim, n=5_000, n_planned=10_000)
    assert list(below.to_pandas()["assumption"]) == ["current trend", "no effect"]
    assert below.to_polars()["conditional_power"].to_list() == [below.current_trend, below.null]


def test_conditional_power_text_markdown_and_html_show_the_same_cells():
    result, case = _rpact_two_sample_conditional_power()
    # Shares with three significant digits, by the helper every result uses.
    planned = format_share(case["conditional_power"], 3)
    heading = (
        # 600 of 1,500 units: t = 0.4.
        f"Conditional power at 40.0% of the information (z = {result.z:.4g}, final boundary "
        "1.96, greater)"
    )
    text = str(result).splitlines()
    assert text[0] == heading
    assert text[2].split() == ["assumption", "expected", "final", "z", "conditional", "power"]
    assert text[5].split() == ["planned", "effect", f"{result.planned_drift:.4g}", planned]
    assert text[6].split() == ["no", "effect", "0", format_share(result.null, 3)]
    markdown = result.to_markdown().splitlines()
    assert markdown[0] == heading
    assert markdown[2] == "| assumption | expected final z | conditional power |"
    assert markdown[5] == f"| planned effect | {result.planned_drift:.4g} | {planned} |"
    html = result.to_html()
    assert html.startswith(f'<div class="ablens-conditional-power"><p>{heading}</p><table')
    assert (
        f"<tr><td>planned effect</td><td>{result.planned_drift:.4g}</td><td>{planned}</td>" in html
    )
    assert result._repr_html_() == html


def test_conditional_power_shares_near_one_never_read_100_percent():
    near_one = conditional_power_from_result(
        mean_test(5_000, 10.0, 25.0, 5_000, 10.5, 25.0, test="z"), n=10_000, n_planned=20_000
    )
    assert 0.999 < near_one.current_trend < 1
    # A share rounding to 100% keeps digits until it does not: certainty is never claimed.
    current = near_one.to_markdown().splitlines()[4]
    assert current.startswith("| current trend | 7.071 | 99.99")
    assert "100%" not in current


def test_conditional_power_at_the_end_is_the_decision():
    assert conditional_power(2.0, 1.0) == 1.0
    assert conditional_power(1.0, 1.0) == 0.0
    assert conditional_power(-2.0, 1.0, alternative="greater") == 0.0


def test_conditional_power_at_the_planned_drift_averages_to_the_design_power():
    # E[CP(theta)] over Z_t ~ N(theta sqrt(t), 1) is the unconditional power: a check of the
    # formula's centring independent of R (Gauss-Hermite quadrature, 80 nodes).
    theta, t = 2.8, 0.4
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    values = [conditional_power(theta * math.sqrt(t) + x, t, drift=theta) for x in nodes]
    average = float(np.dot(weights, values) / math.sqrt(2 * math.pi))
    expected = float(power_curve("cohen-h", 2.0, effect=theta))  # n1 n2/(n1+n2) = 1
    assert average == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: solve_power("t-test", n=None, effect=0.5, power=0.8, ratio=0.0), "ratio == 0.0"),
        (lambda: solve_power("t-test", n=None, effect=0.5, power=0.8, ratio=-1.0), "ratio"),
        (
            lambda: solve_power("t-test", n=None, effect=0.5, power=0.8, ratio=2.0, n_treatment=9),
            "both set the second group",
        ),
        (
            lambda: solve_power(
                "mean", n=None, effect=0.5, power=0.8, sd=1, ratio=2, split=(0.5, 0.5)
            ),
            "both set the allocation",
        ),
        (
            lambda: solve_power("prop-test", n=None, effect=0.1, power=0.8, baseline=0.3, ratio=2),
            "ratio does not apply",
        ),
        (
            lambda: solve_power("t-test", n=None, effect=0.5, power=0.8, ratio=2, sample="paired"),
            "ratio applies to two samples",
        ),
        (
            lambda: solve_n_treatment("prop-test", n_control=100, effect=0.1, baseline=0.3),
            "equal groups",
        ),
        (lambda: solve_n_treatment("chi-square", n_control=100, effect=0.1), "no second group"),
        (
            lambda: solve_n_treatment("t-test", n_control=10, effect=0.5, ratio=2.0),
            "ratio does not apply to solve_n_treatment",
        ),
        (lambda: solve_n_treatment("t-test", n_control=0, effect=0.5), "n_control == 0"),
        (lambda: solve_n_treatment("t-test", n_control=5, effect=0.3, power=0.9), "caps the power"),
        (lambda: solve_n_treatment("cohen-h", n_control=50, effect=0.3), "caps the power"),
        (
            lambda: solve_n_treatment(
                "mean", n_control=100, effect=-0.3, sd=1, alternative="greater"
            ),
            "not beyond the null",
        ),
        (lambda: solve_n_treatment("t-test", n_control=500, effect=5.0), "already reaches"),
        (
            lambda: solve_n_treatment("t-test", n_control=50, effect=0.5, sample="one-sample"),
            "needs two samples",
        ),
        (lambda: solve_n_treatment("mean", n_control=50, effect=0.5, sd=None), "sd == None"),
        (lambda: solve_power("chi-square", n=None, effect=-0.1, power=0.8), "effect == -0.1"),
        (lambda: solve_power("chi-square", n=None, effect=0.1, power=0.8, df=0), "df == 0"),
        (lambda: solve_power("chi-square", n=None, effect=0.1, power=0.8, df=1.5), "df == 1.5"),
        (lambda: chisq_power(-0.1, 100, 2), "w == -0.1"),
        (lambda: cohen_w([0.5, 0.5], [0.6, 0.5]), "p1 == .*sum to 1"),
        (lambda: cohen_w([0.0, 1.0], [0.5, 0.5]), "p0 == .*> 0"),
        (lambda: cohen_w([0.5, 0.5], [0.2, 0.3, 0.5]), "same length"),
        (lambda: cohen_w([1.0], [1.0]), "at least 2"),
        (lambda: cohen_w_table([0.5, 0.5]), "2-d array"),
        (lambda: cohen_w_table([[0.5, 0.0], [0.5, 0.0]]), "empty row or column"),
        (lambda: conditional_power(1.0, 0.0), "information_fraction == 0.0"),
        (lambda: conditional_power(1.0, 1.2), "information_fraction == 1.2"),
        (lambda: conditional_power(1.0, -0.5), r"must be in \(0, 1\]"),
        (lambda: conditional_power(math.nan, 0.5), "z == nan"),
        (lambda: conditional_power(1.0, 0.5, alpha=1.5), "alpha == 1.5"),
        (lambda: conditional_power(1.0, 0.5, critical_value=-1.0), "critical_value == -1.0"),
        (lambda: conditional_power(1.0, 0.5, alternative="bigger"), "alternative"),
        (lambda: conditional_power(1.0, 0.5, drift=math.inf), "drift == inf"),
    ],
)
def test_bad_input_raises_input_error(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_conditional_power_from_result_bad_input():
    interim = mean_test(500, 10.0, 25.0, 500, 10.5, 25.0)
    with pytest.raises(InputError, match=r"n == 2000\.0 exceeds n_planned"):
        conditional_power_from_result(interim, n=2000, n_planned=1000)
    with pytest.raises(InputError, match="n_planned == 0"):
        conditional_power_from_result(interim, n=10, n_planned=0)
    with pytest.raises(InputError, match="n == -1"):
        conditional_power_from_result(interim, n=-1, n_planned=1000)
    relative = mean_test(500, 10.0, 25.0, 500, 10.5, 25.0, margin=-0.01, margin_type="relative")
    with pytest.raises(InputError, match="relative margin"):
        conditional_power_from_result(relative, n=1000, n_planned=2000, planned_effect=0.5)


def test_new_names_are_in_the_flat_namespace():
    for name in ("conditional_power", "conditional_power_from_result", "solve_n_treatment"):
        assert getattr(ablens, name) is getattr(ablens.stats, name)


def test_conditional_power_from_result_survives_a_p_value_of_zero():
    # z = 60: the two-sided p-value underflows to 0; the conditional power is still 1.
    interim = mean_test(5_000, 10.0, 25.0, 5_000, 16.0, 25.0, test="z")
    assert interim.p_value == 0.0
    result = conditional_power_from_result(interim, n=10_000, n_planned=20_000)
    assert result.z > 38
    assert result.current_trend == 1.0
    assert result.null == 1.0


@pytest.mark.parametrize("seed", range(40))
def test_solve_n_treatment_is_an_exact_inverse_on_random_designs(seed):
    rng = np.random.default_rng(seed)
    kind = ("mean", "proportion", "t-test", "cohen-h")[seed % 4]
    alternative = ("two-sided", "greater", "less")[rng.integers(3)]
    sign = -1.0 if alternative == "less" else 1.0
    power = float(rng.uniform(0.5, 0.95))
    alpha = float(rng.choice([0.01, 0.05, 0.1]))
    options: dict[str, Any] = {"alternative": alternative}
    if kind == "mean":
        options.update(sd=float(rng.uniform(0.5, 3)), sd_treatment=float(rng.uniform(0.5, 3)))
        effect = sign * float(rng.uniform(0.1, 0.5))
    elif kind == "proportion":
        options.update(baseline=float(rng.uniform(0.05, 0.5)))
        effect = sign * float(rng.uniform(0.01, 0.04))
    elif kind == "t-test":
        options.update(sd=float(rng.uniform(0.5, 2)), strict=bool(rng.integers(2)))
        effect = sign * float(rng.uniform(0.3, 1.0))
    else:
        effect = sign * float(rng.uniform(0.1, 0.4))
    # A control group 1.5 times the equal-groups size leaves room below the ceiling.
    equal = solve_power(kind, n=None, effect=effect, power=power, alpha=alpha, **options)
    n_control = 1.5 * equal.n_per_arm[0]
    solution = solve_n_treatment(
        kind, n_control=n_control, effect=effect, power=power, alpha=alpha, **options
    )
    n_treatment = solution.n_per_arm[1]
    assert n_treatment < equal.n_per_arm[1]
    # Recompute the power independently of the solver: the same design with that n2 fixed.
    if kind in ("mean", "proportion"):
        total = n_control + n_treatment
        check = solve_power(
            kind,
            n=total,
            effect=effect,
            power=None,
            alpha=alpha,
            split=(n_control / total, n_treatment / total),
            **options,
        )
    else:
        check = solve_power(
            kind,
            n=n_control,
            effect=effect,
            power=None,
            alpha=alpha,
            n_treatment=n_treatment,
            **options,
        )
    assert check.power == pytest.approx(power, rel=1e-9)
