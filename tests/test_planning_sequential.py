"""Planning sequential designs: sizes inflated for group-sequential and always-valid tests."""

from __future__ import annotations

import json
import math

import numpy as np
import polars as pl
import pytest

import ablens
from ablens.stats.power import mde_curve, power_curve, solve_power


@pytest.mark.parametrize(("looks", "spending"), [(5, "obrien-fleming"), (3, "pocock"), (4, "hsd")])
def test_sample_size_is_the_fixed_one_times_the_inflation(looks, spending):
    fixed = ablens.power_plan(baseline_rate=0.05, mde=0.05)
    sequential = ablens.power_plan(
        baseline_rate=0.05, mde=0.05, sequential="group-sequential", looks=looks, spending=spending
    )
    inflation = ablens.sample_size_inflation(
        [(k + 1) / looks for k in range(looks)], alpha=0.05, beta=0.2, spending=spending
    )
    assert inflation > 1.0
    fixed_total = fixed.to_dict()["n_total"]
    total = sequential.to_dict()["n_total"]
    # Sizes are rounded up per arm: within one unit per arm of the exact product.
    assert abs(total - inflation * fixed_total) <= 2 + inflation * 2
    assert any("inflation factor" in note for note in sequential.notes)


def test_mde_at_a_maximum_size_is_the_fixed_mde_at_the_deflated_size():
    n_max = 200_000
    inflation = ablens.sample_size_inflation([0.25, 0.5, 0.75, 1.0], alpha=0.05, beta=0.2)
    sequential = ablens.power_plan(
        baseline_rate=0.1, n=n_max, mde=None, sequential="group-sequential", looks=4
    )
    fixed = ablens.power_plan(baseline_rate=0.1, n=round(n_max / inflation), mde=None)
    assert sequential.to_dict()["effect"] == pytest.approx(fixed.to_dict()["effect"], rel=1e-4)
    assert (
        sequential.to_dict()["effect"]
        > ablens.power_plan(baseline_rate=0.1, n=n_max, mde=None).to_dict()["effect"]
    )


def test_mean_metric_and_days():
    fixed = ablens.power_plan(mean=10.0, sd=30.0, mde=0.03, daily_traffic=10_000)
    sequential = ablens.power_plan(
        mean=10.0, sd=30.0, mde=0.03, daily_traffic=10_000, sequential="group-sequential"
    )
    assert sequential.to_dict()["days"] >= fixed.to_dict()["days"]
    assert math.isclose(
        sequential.to_dict()["n_total"] / fixed.to_dict()["n_total"],
        ablens.sample_size_inflation([0.2, 0.4, 0.6, 0.8, 1.0], alpha=0.05, beta=0.2),
        rel_tol=1e-3,
    )


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"sequential": "bayes"}, "sequential == 'bayes'"),
        ({"sequential": "group-sequential", "looks": 0}, "looks == 0"),
    ],
)
def test_bad_sequential_options(options, match):
    with pytest.raises(ablens.InputError, match=match):
        ablens.power_plan(baseline_rate=0.05, mde=0.05, **options)


# ---------------------------------------------------------------------------- always valid
ALWAYS_VALID = ["msprt", "confidence-sequence"]


@pytest.mark.parametrize("method", ALWAYS_VALID)
@pytest.mark.parametrize(
    "baseline",
    [
        {"baseline_rate": 0.1, "mde": 0.05},
        {"mean": 10.0, "sd": 30.0, "mde": 0.3, "mde_type": "absolute"},
        {"mean": 10.0, "sd": 30.0, "mde": 0.03, "alternative": "greater"},
    ],
)
def test_always_valid_sizes_are_the_fixed_ones_times_the_inflation(method, baseline):
    looks = 30
    fixed = ablens.power_plan(**baseline)
    sequential = ablens.power_plan(**baseline, sequential=method, looks=looks)
    inflation = ablens.always_valid_inflation(
        looks, method=method, alpha=0.05, beta=0.2, alternative=fixed.alternative
    )
    assert sequential.sequential is not None
    assert sequential.sequential.inflation == pytest.approx(inflation, rel=1e-12)
    exact = solve_power(
        fixed.kind if fixed.kind == "proportion" else "mean",
        effect=baseline["mde"],
        power=0.8,
        baseline=fixed.baseline,
        **({} if fixed.kind == "proportion" else {"sd": fixed.sd}),
        effect_type=fixed.mde_type,
        alternative=fixed.alternative,
    ).n
    assert sequential.n_per_arm[0] == math.ceil(inflation * exact / 2 - 1e-9)
    assert sequential.n_total > fixed.n_total
    # the one-sided plan pays for the two-sided test: more than the two-sided inflation
    if fixed.alternative == "greater":
        assert inflation > ablens.always_valid_inflation(looks, method=method)
        assert any("act only on 'treatment higher'" in note for note in sequential.notes)


def unit_variance(p: ablens.PowerPlan) -> float:
    """Variance of the absolute difference per unit of the whole (two-arm, equal) experiment."""
    return (1.0 - p.variance_reduction) * p.sd**2 * 4.0


def test_a_given_tau_solves_the_fixed_point_in_the_sample_size():
    tau, looks = 0.5, 30
    options = {"mean": 10.0, "sd": 30.0, "mde": 0.3, "mde_type": "absolute"}
    fixed = ablens.power_plan(**options)
    sequential = ablens.power_plan(**options, sequential="msprt", looks=looks, tau=tau)
    n_fixed = solve_power("mean", effect=0.3, power=0.8, sd=30.0).n
    variance = unit_variance(fixed)
    inflation = ablens.always_valid_inflation(looks, tau=tau, fixed_variance=variance / n_fixed)
    assert sequential.sequential is not None
    assert sequential.sequential.tau == tau
    assert sequential.sequential.inflation == pytest.approx(inflation, rel=1e-12)
    n_max = inflation * n_fixed
    assert sequential.n_per_arm[0] == math.ceil(n_max / 2 - 1e-9)
    # the design at that maximum reproduces itself: r_K = tau^2 n_max / unit variance
    design = ablens.always_valid_design(looks, tau=tau, max_variance=variance / n_max)
    assert design.inflation == pytest.approx(inflation, rel=1e-10)
    # a better-tuned tau (the default, at n_max) needs fewer units than this one
    default = ablens.power_plan(**options, sequential="msprt", looks=looks)
    assert default.n_total < sequential.n_total


def test_a_given_tau_and_a_given_duration():
    tau, looks, days, traffic = 0.5, 14, 28, 5_000
    options = {"mean": 10.0, "sd": 30.0, "mde": None, "days": days, "daily_traffic": traffic}
    sequential = ablens.power_plan(**options, sequential="msprt", looks=looks, tau=tau)
    n = days * traffic
    inflation = ablens.always_valid_inflation(
        looks, tau=tau, max_variance=unit_variance(sequential) / n
    )
    assert sequential.sequential is not None
    assert sequential.sequential.inflation == pytest.approx(inflation, rel=1e-12)
    deflated = ablens.power_plan(mean=10.0, sd=30.0, mde=None, n=round(n / inflation))
    assert sequential.effect == pytest.approx(deflated.effect, rel=1e-4)


@pytest.mark.parametrize("tau", [None, 0.5])
def test_each_day_uses_the_inflation_of_a_plan_of_that_many_days(tau):
    looks = 20
    sequential = ablens.power_plan(
        mean=10.0,
        sd=30.0,
        mde=0.3,
        mde_type="absolute",
        daily_traffic=4_000,
        sequential="msprt",
        looks=looks,
        tau=tau,
    )
    assert sequential.days is not None
    assert len(sequential.by_day) == sequential.days > 100  # the table interpolates (tau)
    variance = unit_variance(sequential)
    for day in (1, 2, 7, 30, 77, sequential.days - 1, sequential.days):
        row = sequential.by_day[day - 1]
        if tau is None:
            inflation = ablens.always_valid_inflation(looks)
        else:
            inflation = ablens.always_valid_inflation(
                looks, tau=tau, max_variance=variance / row.units
            )
        mde = mde_curve("mean", [row.units / inflation], power=0.8, sd=30.0)[0]
        assert row.mde == pytest.approx(mde, rel=1e-7), day
        power = power_curve("mean", [row.units / inflation], effect=0.3, sd=30.0)[0]
        assert row.power == pytest.approx(power, rel=1e-7, abs=1e-12), day


def test_the_plan_says_which_sequential_design_it_planned():
    p = ablens.power_plan(
        baseline_rate=0.1, mde=0.05, daily_traffic=10_000, sequential="msprt", looks=21
    )
    assert p.sequential is not None
    assert p.sequential.method == "msprt"
    assert "mSPRT (always valid) over 21 looks" in p.sentence
    assert "needs at most" in p.sentence
    for text in (str(p), p.to_markdown(), p.to_html()):
        assert "sequential design" in text
        assert "mSPRT (always valid), 21 equally spaced looks" in text
    document = p.to_dict()
    assert json.loads(json.dumps(document)) == document
    assert document["sequential"] == {
        "method": "msprt",
        "looks": 21,
        "inflation": p.sequential.inflation,
        "type_i_error": p.sequential.type_i_error,
        "planned_units": p.n_total,
        "spending": None,
        "tau": p.sequential.tau,
    }
    assert 0 < document["sequential"]["type_i_error"] < 0.05
    # default tau: default_tau at the maximum, on the absolute scale
    assert p.sequential.tau == pytest.approx(ablens.default_tau(0.09 * 4 / (p.n_total)), 1e-3)
    note = next(n for n in p.notes if n.startswith("analyze with"))
    assert f"planned_units={p.n_total}" in note
    assert ablens.power_plan(baseline_rate=0.1, mde=0.05).to_dict()["sequential"] is None
    cs = ablens.power_plan(baseline_rate=0.1, mde=0.05, sequential="confidence-sequence", looks=21)
    assert cs.sequential is not None
    assert cs.sequential.tau is None
    assert "confidence sequence (always valid) over 21 looks" in cs.sentence
    gs = ablens.power_plan(baseline_rate=0.1, mde=0.05, sequential="group-sequential", looks=4)
    assert gs.sequential is not None
    assert gs.sequential.label == "group-sequential (obrien-fleming)"
    assert gs.sequential.type_i_error == 0.05


def test_corrected_alpha_sets_the_inflation():
    p = ablens.power_plan(
        baseline_rate=0.1, mde=0.05, arms=3, correction="bonferroni", sequential="msprt", looks=10
    )
    assert p.sequential is not None
    assert p.sequential.inflation == pytest.approx(
        ablens.always_valid_inflation(10, alpha=0.025), rel=1e-12
    )
    assert p.sequential.planned_units == p.n_per_arm[0] + p.n_per_arm[1]


def test_from_history_with_an_always_valid_design():
    rng = np.random.default_rng(11)
    users = pl.DataFrame(
        {"day": rng.integers(0, 14, 30_000), "converted": rng.random(30_000) < 0.1}
    )
    fixed = ablens.power_plan_from_history(
        users, metric=ablens.Proportion("converted"), date="day", integer_days=True, mde=0.2
    )
    sequential = ablens.power_plan_from_history(
        users,
        metric=ablens.Proportion("converted"),
        date="day",
        integer_days=True,
        mde=0.2,
        sequential="confidence-sequence",
        looks=14,
    )
    inflation = ablens.always_valid_inflation(14, method="confidence-sequence")
    assert sequential.n_total / fixed.n_total == pytest.approx(inflation, rel=1e-3)
    assert sequential.days is not None
    assert fixed.days is not None
    assert sequential.days > fixed.days


# ---------------------------------------------------------------------------- end to end
def _experiment(rng: np.random.Generator, units: int, looks: int, effect: float) -> pl.DataFrame:
    arm = np.repeat(["control", "treatment"], units // 2)
    rng.shuffle(arm)
    return pl.DataFrame(
        {
            "arm": arm,
            "day": 1 + np.arange(arm.size) * looks // arm.size,
            "x": rng.normal(10.0, 4.0, arm.size) + np.where(arm == "treatment", effect, 0.0),
        }
    )


#: The design both analyze_looks tests run: a mean (sd 4) read at 10 looks by an mSPRT, planned
#: to detect +0.2 with 80% power.
LOOKS, EFFECT = 10, 0.2


def _planned_msprt() -> ablens.PowerPlanSequential:
    p = ablens.power_plan(
        mean=10.0, sd=4.0, mde=EFFECT, mde_type="absolute", sequential="msprt", looks=LOOKS
    )
    assert p.sequential is not None
    return p.sequential


def _analyze_one(rng: np.random.Generator, planned: int) -> ablens.AlwaysValidResult:
    """One simulated experiment of ``planned`` units with the true effect, read at every look."""
    return ablens.analyze_looks(
        _experiment(rng, planned, LOOKS, EFFECT),
        ablens.Mean("x"),
        control="control",
        variant="arm",
        time="day",
        method="msprt",
        planned_units=planned,
    )


def test_analyze_looks_runs_the_planned_test():
    """The plan's tau is analyze_looks' default at planned_units, and its rule is the bound."""
    planned_design = _planned_msprt()
    result = _analyze_one(np.random.default_rng(20261127), planned_design.planned_units)
    assert result.tau is not None
    # analyze_looks tunes tau on the first look's variance: equal up to sampling error
    assert result.tau == pytest.approx(planned_design.tau, rel=0.05)
    design = ablens.always_valid_design(LOOKS)
    rejected = False
    for k, row in enumerate(result.rows):
        ratio = result.tau**2 / row.standard_error**2
        bound = math.sqrt((1 + ratio) / ratio * (math.log1p(ratio) - 2 * math.log(0.05)))
        rejected |= abs(row.estimate) / row.standard_error >= bound
        assert row.stops == rejected, k
        # The observed variances are the planned ones up to sampling error (a few percent),
        # so the ratios and the bounds are the design's.
        assert ratio == pytest.approx(design.ratios[k], rel=0.05), k
        assert bound == pytest.approx(design.z_bounds[k], rel=0.005), k
    assert result.decision == "treatment higher"


def test_simulated_experiments_through_analyze_looks_reach_the_power():
    """250 experiments of the planned size, read at 10 looks by analyze_looks: about 80% stop.

    The 99.9% binomial range at 250 runs is +/- 0.083: coarse, but a plan at the fixed size
    (about 50% power here) would fail it.
    """
    runs = 250
    planned = _planned_msprt().planned_units
    rng = np.random.default_rng(5)
    stopped = sum(_analyze_one(rng, planned).decision == "treatment higher" for _ in range(runs))
    margin = 3.29 * math.sqrt(0.8 * 0.2 / runs)
    assert abs(stopped / runs - 0.8) <= margin, stopped / runs


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"sequential": "msprt", "looks": 0}, "looks == 0"),
        ({"sequential": "msprt", "tau": 0.0}, "tau == 0.0"),
        ({"sequential": "msprt", "tau": -0.1}, "tau == -0.1"),
        ({"sequential": "confidence-sequence", "tau": 0.1}, "applies to sequential='msprt'"),
        ({"sequential": "group-sequential", "tau": 0.1}, "applies to sequential='msprt'"),
        ({"tau": 0.1}, "tau == 0.1 applies to sequential='msprt'"),
        ({"sequential": "msprt", "alpha": 1.5}, "alpha == 1.5"),
        ({"sequential": "always-valid"}, "sequential == 'always-valid'"),
    ],
)
def test_bad_always_valid_options(options, match):
    with pytest.raises(ablens.InputError, match=match):
        ablens.power_plan(baseline_rate=0.05, mde=0.05, **options)
