"""The demo experiment: a realistic synthetic checkout test with known true effects.

`generate` simulates users of an online shop randomized 50/50 between ``control`` and
``new_checkout``. Each user has a latent activity level that drives sessions, conversion and
spend, both before the experiment (``pre_revenue``, a covariate) and during it. The treatment
raises the probability of converting by exactly `TRUE_EFFECTS` ``["conversion"]`` (relative) and
changes nothing else about a converting user, so orders and revenue per user rise by the same
relative amount in expectation, while sessions do not move.

`run` writes the users to a DuckDB file, computes every arm's (and platform's) moments in one
query inside DuckDB and analyzes them. `write_demo` also writes the demo's analysis plan beside
the file (the plan of ``examples/plan.yaml``), ready for ``ablens analyze`` or ``ablens serve``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ablens._validation import check_count, optional_import
from ablens.analysis import analyze
from ablens.errors import InputError
from ablens.metrics import MannWhitney, Mean, Metric, Proportion, Quantile, Ratio
from ablens.planning import PowerPlan, power_plan_from_history

if TYPE_CHECKING:
    from ablens.results import AnalysisResult

__all__ = [
    "TRUE_EFFECTS",
    "DemoRun",
    "demo_metrics",
    "demo_plan_text",
    "generate",
    "is_demo_database",
    "run",
    "write_demo",
]

#: True relative effect of ``new_checkout`` on each metric's expected value.
TRUE_EFFECTS: dict[str, float] = {
    "conversion": 0.05,
    "revenue per user": 0.05,
    "revenue per user (CUPED)": 0.05,
    "orders per user": 0.05,
    "orders per session": 0.05,
    "sessions per user": 0.0,
    "median minutes on site": 0.0,
    "p90 minutes on site": 0.0,
}
ARMS = ("control", "new_checkout")
BASE_CONVERSION = 0.08
TABLE = "users"
#: File names `write_demo` uses; the plan names the database relative to its own folder.
DEMO_DATABASE = "ablens_demo.duckdb"
DEMO_PLAN = "plan.yaml"
#: The comment `run` puts on the demo's table: the mark of a file the demo may replace.
DEMO_MARK = "ablens demo data: `ablens demo` replaces this file"


def generate(users: int = 200_000, seed: int = 2026) -> dict[str, np.ndarray[Any, Any]]:
    """Simulate the experiment's per-user table as numpy columns.

    Args:
        users: Number of users (>= 100).
        seed: Seed of the random generator; the same seed gives the same data.

    Returns:
        Column name to array: ``user_id``, ``variant``, ``platform``, ``sessions``, ``orders``,
        ``revenue``, ``converted``, ``pre_revenue``, ``minutes``, ``exposure_day``.

    Examples:
        >>> data = generate(1_000, seed=1)
        >>> sorted(data)[:4], len(data["user_id"])
        (['converted', 'exposure_day', 'minutes', 'orders'], 1000)
    """
    n = check_count("users", users, minimum=100)
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < 0.5
    # Users differ a lot in how active they are (gamma, mean 1) and how much they spend per
    # order (lognormal); both persist over time, which is what makes history predictive.
    activity = rng.gamma(shape=0.3, scale=1 / 0.3, size=n)
    spend_level = rng.lognormal(0.0, 0.8, n)
    platform = rng.choice(np.array(["ios", "android", "web"]), size=n, p=[0.35, 0.40, 0.25])
    sessions = 1 + rng.poisson(3.0 * activity)
    p_convert = np.minimum(0.9, BASE_CONVERSION * activity)
    # Pre-period (12 weeks of history): orders at the same per-user rate, so it predicts
    # in-experiment revenue (CUPED) without being affected by the treatment.
    pre_orders = rng.poisson(12 * 1.4 * p_convert)
    pre_revenue = pre_orders * rng.lognormal(3.5, 0.3, n) * spend_level
    p_convert = np.where(treated, p_convert * (1 + TRUE_EFFECTS["conversion"]), p_convert)
    converted = rng.random(n) < p_convert
    orders = np.where(converted, 1 + rng.poisson(0.4, n), 0)
    basket = rng.lognormal(3.5, 0.3, n) * spend_level
    revenue = np.round(orders * basket, 2)
    minutes = rng.gamma(2.0, 3.0 * (0.5 + np.minimum(activity, 5.0)))  # continuous, no effect
    return {
        "user_id": np.arange(1, n + 1, dtype=np.int64),
        "variant": np.where(treated, ARMS[1], ARMS[0]),
        "platform": platform,
        "sessions": sessions.astype(np.int64),
        "orders": orders.astype(np.int64),
        "revenue": revenue,
        "converted": converted,
        "pre_revenue": np.round(pre_revenue, 2),
        "minutes": minutes,
        "exposure_day": rng.integers(0, 14, n),
    }


def demo_metrics() -> list[Metric]:
    """The demo's metrics.

    Conversion is primary; revenue (raw and CUPED-adjusted by the pre-period revenue), orders
    per user and orders per session (a ratio) are secondary; sessions per user is a guardrail.
    """
    return [
        Proportion("converted", name="conversion", role="primary"),
        Mean("revenue", name="revenue per user", role="secondary"),
        Mean(
            "revenue",
            name="revenue per user (CUPED)",
            role="secondary",
            covariates=("pre_revenue",),
        ),
        Mean("orders", name="orders per user", role="secondary"),
        Ratio("orders", "sessions", name="orders per session", role="secondary"),
        Mean("sessions", name="sessions per user", role="guardrail"),
        Quantile("minutes", 0.5, name="median minutes on site", role="guardrail"),
        Quantile("minutes", 0.9, name="p90 minutes on site", role="guardrail"),
        MannWhitney("revenue", name="revenue (rank test)", role="secondary"),
    ]


@dataclass(frozen=True)
class DemoRun:
    """What `run` produced: where the data is, and the analysis."""

    database: Path
    users: int
    result: AnalysisResult
    plan: PowerPlan

    def true_effects_text(self) -> str:
        """Each metric's true lift beside the estimate and its interval."""
        lines = []
        for c in self.result.comparisons:
            if c.metric not in TRUE_EFFECTS:  # a rank test has no lift to compare
                continue
            truth = TRUE_EFFECTS[c.metric]
            lo, hi = c.result.relative_ci
            covered = "inside" if lo <= truth <= hi else "OUTSIDE"
            lines.append(
                f"  {c.metric:<26} true lift {truth:+.1%}, "
                f"estimated {c.result.relative_effect:+.2%} [{lo:+.2%}, {hi:+.2%}]: "
                f"truth {covered} the interval"
            )
        return "\n".join(lines)


def run(
    database: str | Path = "ablens_demo.duckdb",
    users: int = 200_000,
    seed: int = 2026,
    *,
    overwrite: bool = False,
) -> DemoRun:
    """Generate the demo experiment into a DuckDB file and analyze it.

    Args:
        database: Path of the DuckDB file to create. An existing file is replaced only when it
            is a demo database (its table carries `DEMO_MARK`) or with ``overwrite``.
        users: Number of simulated users.
        seed: Random seed.
        overwrite: Replace ``database`` whatever it holds.

    Returns:
        The database path, user count and analysis result.

    Raises:
        InputError: ``database`` exists and is not a demo database (nor ``overwrite``), or is
            a folder.
    """
    duckdb = optional_import("duckdb", "duckdb")
    path = Path(database)
    check_count("users", users, minimum=100)  # before the file is touched
    _check_replaceable(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    Path(f"{path}.wal").unlink(missing_ok=True)  # the old file's journal, not the new one's
    frame = generate(users, seed)  # read by DuckDB's replacement scan below
    with duckdb.connect(str(path)) as connection:
        connection.register("frame", frame)
        connection.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM frame")  # noqa: S608 - constant
        connection.execute(f"COMMENT ON TABLE {TABLE} IS '{DEMO_MARK}'")
        # Every moment of every arm and platform in one query inside DuckDB; only they return.
        result = analyze(
            (connection, TABLE),
            demo_metrics(),
            control=ARMS[0],
            variant="variant",
            unit="user_id",
            segments=["platform"],
            arms=ARMS,
            experiment_id="ablens-demo",
        )
        # The same table as history for the next test: what a +5% conversion lift needs.
        next_plan = power_plan_from_history(
            (connection, TABLE),
            metric=Proportion("converted", name="conversion"),
            date="exposure_day",
            integer_days=True,  # the simulation's day numbers 0..13
            unit="user_id",
            mde=0.05,
            experiment_id="ablens-demo",
        )
    return DemoRun(path, users, result, next_plan)


def _check_replaceable(path: Path, *, overwrite: bool) -> None:
    """Refuse to delete ``path`` unless it is missing, a demo database, or ``overwrite``."""
    if path.is_dir():
        raise InputError(f"database == '{path}' is a folder, must be a DuckDB file to write")
    if overwrite or not (path.exists() or path.is_symlink()):
        return
    reason = _not_a_demo_database(path)
    if reason is not None:
        raise InputError(
            f"database == '{path}' exists and {reason}; the demo replaces its file, so it "
            "leaves this one alone: choose another file (--db), or replace it anyway with "
            "--overwrite (overwrite=True in Python)"
        )


def is_demo_database(path: str | Path) -> bool:
    """Whether ``path`` is a DuckDB file the demo wrote (one `run` may replace).

    Examples:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = run(folder / "demo.duckdb", users=1_000)
        >>> is_demo_database(folder / "demo.duckdb")
        True
        >>> (folder / "notes.txt").write_text("my notes")
        8
        >>> is_demo_database(folder / "notes.txt")
        False
    """
    return Path(path).is_file() and _not_a_demo_database(Path(path)) is None


def _not_a_demo_database(path: Path) -> str | None:
    """Why ``path`` is not a demo database, or None when it is one."""
    duckdb = optional_import("duckdb", "duckdb")
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        if "not a valid DuckDB database" in str(error):
            return "is not a DuckDB database"
        return f"cannot be opened to check it is a demo database ({error})"
    with connection:
        marks = connection.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
            [TABLE],
        ).fetchall()
    if marks != [(DEMO_MARK,)]:
        return "is a DuckDB database the demo did not write (its users table lacks the mark)"
    return None


def demo_plan_text(database: str = DEMO_DATABASE) -> str:
    """The demo's analysis plan (YAML; ``examples/plan.yaml`` in the repository).

    Its source is the DuckDB file ``database`` in the plan's folder, table ``users``.

    Args:
        database: The file name of the demo database, beside the plan (``ablens demo --db``'s
            name when it is not the default).

    Returns:
        The plan, as YAML text with its comments.

    Raises:
        InputError: ``database`` is empty or has a folder in it.

    Examples:
        >>> from ablens.analysis_plan import parse_plan
        >>> plan = parse_plan(demo_plan_text())
        >>> plan.experiment_id, [m.name for m in plan.metrics][:2]
        ('ablens-demo', ['conversion', 'revenue per user (CUPED)'])
        >>> parse_plan(demo_plan_text("shop.duckdb")).source.to_dict()["duckdb"]["file"]
        'shop.duckdb'
    """
    text = (Path(__file__).parent / "demo_plan.yaml").read_text(encoding="utf-8")
    if database == DEMO_DATABASE:
        return text
    if not database or Path(database).name != database:
        raise InputError(
            f"database == {database!r}, must be a file name (the plan reads it from its own "
            "folder), e.g. 'ablens_demo.duckdb'"
        )
    # A JSON string is a YAML string: quoted and escaped whatever the name holds.
    return text.replace(f"file: {DEMO_DATABASE}", f"file: {json.dumps(database)}", 1)


def write_demo(
    folder: str | Path, users: int = 200_000, seed: int = 2026, *, overwrite: bool = False
) -> Path:
    """Simulate the demo experiment into ``folder`` with its plan; return the plan's path.

    The folder gets ``ablens_demo.duckdb`` (see `run`) and ``plan.yaml`` (`demo_plan_text`),
    which ``ablens analyze``, ``ablens report`` and ``ablens serve`` read as they are.

    Args:
        folder: Where to write (created if missing; the two files are replaced, the database
            only when it is the demo's own or with ``overwrite``).
        users: Number of simulated users.
        seed: Random seed.
        overwrite: Replace an ``ablens_demo.duckdb`` the demo did not write.

    Returns:
        The path of the plan file.
    """
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    run(target / DEMO_DATABASE, users=users, seed=seed, overwrite=overwrite)
    plan = target / DEMO_PLAN
    plan.write_text(demo_plan_text(), encoding="utf-8")
    return plan
