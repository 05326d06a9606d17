"""Planning a group-sequential design: sizes inflated by rpact's inflation factor."""

from __future__ import annotations

import math

import pytest

import ablens


@pytest.mark.parametrize(("looks", "spending"), [(5, "obrien-fleming"), (3, "pocock"), (4, "hsd")])
def test_sample_size_is_the_fixed_one_times_the_inflation(looks, spending):
    fixed = ablens.plan(baseline_rate=0.05, mde=0.05)
    sequential = ablens.plan(
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
    sequential = ablens.plan(
        baseline_rate=0.1, n=n_max, mde=None, sequential="group-sequential", looks=4
    )
    fixed = ablens.plan(baseline_rate=0.1, n=round(n_max / inflation), mde=None)
    assert sequential.to_dict()["effect"] == pytest.approx(fixed.to_dict()["effect"], rel=1e-4)
    assert (
        sequential.to_dict()["effect"]
        > ablens.plan(baseline_rate=0.1, n=n_max, mde=None).to_dict()["effect"]
    )


def test_mean_metric_and_days():
    fixed = ablens.plan(mean=10.0, sd=30.0, mde=0.03, daily_traffic=10_000)
    sequential = ablens.plan(
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
        ablens.plan(baseline_rate=0.05, mde=0.05, **options)
