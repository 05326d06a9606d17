"""The verdict: ship, roll back, keep running, or fix the data first — and the health gates.

`verdict` turns an analysis (and, when a plan declares them, its sequential readings) into one
decision from a fixed vocabulary and one sentence in product language saying why. Health gates
come first and override the metrics: the sample ratio, the planned sample, the guardrails. Every
face (the command line, the report, the web page) shows this one verdict; none decides on its
own.

>>> import ablens
>>> data = {
...     "control": ablens.Moments.from_summary(
...         10_000, mean={"spend": 10.0}, variance={"spend": 25.0}
...     ),
...     "treatment": ablens.Moments.from_summary(
...         10_000, mean={"spend": 10.1}, variance={"spend": 25.0}
...     ),
... }
>>> label, reason = verdict(ablens.analyze(data, [ablens.Mean("spend")], control="control"))
>>> label
'Inconclusive — keep running'
>>> print(reason)
No primary metric moved beyond chance: spend +1% [-0.383%, +2.4%] (p=0.1573); with this much
data only a change of about ±1.98% would be detected with 80% power, and a flat result without
power is not evidence of no effect.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ablens import render
from ablens._validation import check_choice
from ablens.analysis_plan.model import Planned
from ablens.stats.power import detectable_effect
from ablens.stats.srm import SRM_WATCH_LEVEL
from ablens.typing import CHECK_STATUSES, VERDICT_LABELS, CheckStatus, VerdictLabel

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Sequence

    from ablens.analysis_plan.model import AnalysisPlan
    from ablens.results import AnalysisResult, Comparison
    from ablens.sequential import SequentialReading

__all__ = [
    "CHECK_STATUSES",
    "FIX_DATA",
    "KEEP_RUNNING",
    "NO_EFFECT",
    "ROLL_BACK",
    "SHIP",
    "VERDICTS",
    "VERDICT_KEYS",
    "HealthCheck",
    "Verdict",
    "data_verdict",
    "days_still_needed",
    "verdict",
]

FIX_DATA, KEEP_RUNNING, NO_EFFECT, ROLL_BACK, SHIP = VERDICT_LABELS
#: The fixed vocabulary of decisions, in order of precedence.
VERDICTS: tuple[VerdictLabel, ...] = VERDICT_LABELS
#: Each verdict by a short name, for ``--fail-on`` and `Verdict.exit_code`'s ``fail_on``.
VERDICT_KEYS: dict[str, VerdictLabel] = {
    "fix-data": FIX_DATA,
    "keep-running": KEEP_RUNNING,
    "no-effect": NO_EFFECT,
    "roll-back": ROLL_BACK,
    "ship": SHIP,
}


@dataclass(frozen=True)
class HealthCheck:
    """One health gate: whether it passed, and what it found (and what to do next).

    Attributes:
        name: "sample-ratio", "sample-size", "guardrails", "segment-ratio" or "data".
        passed: True when the gate passed.
        message: One sentence for people.
        incomplete: For a gate that did not pass: True when nothing is wrong but the data are
            not all in yet (the planned sample or duration not reached, no sequential boundary
            crossed: keep running), False when something is wrong (a sample-ratio mismatch, a
            guardrail worse). See `status`.
        warning: For a gate that did not pass: True when what it found is worth a look but
            does not block the verdict (a segment's split off while the overall split is
            fine). See `status`.
    """

    name: str
    passed: bool
    message: str
    incomplete: bool = False
    warning: bool = False

    def __post_init__(self) -> None:
        if self.passed and (self.incomplete or self.warning):
            raise ValueError("a gate that passed cannot be incomplete or a warning")
        if self.incomplete and self.warning:
            raise ValueError("a gate cannot be both incomplete and a warning")

    @property
    def status(self) -> CheckStatus:
        """The gate's state: "passed", "failed", "incomplete" or "warning".

        "failed" means something is wrong (the command line exits with 1); "incomplete" that
        the data are not all in yet (exit 0 unless ``--fail-on-incomplete``); "warning" that
        something is worth a look but does not block (exit 0).
        """
        if self.passed:
            return "passed"
        if self.warning:
            return "warning"
        return "incomplete" if self.incomplete else "failed"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "name": self.name,
            "passed": self.passed,
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True)
class Verdict:
    """The decision: a label from the fixed vocabulary and one sentence saying why.

    Unpacks as ``label, reason = verdict(result, plan)``. Two questions a scheduled pipeline
    asks are properties: `healthy` (is something wrong?) and `complete` (is the experiment
    done?); `exit_code` is the command line's answer.

    Attributes:
        label: "Ship", "Roll back", "Inconclusive — keep running" (the planned sample is not
            in, or the plan sets none), "No detectable effect" (the planned sample is in and no
            primary metric moved) or "Don't trust — fix the data".
        reason: One sentence in product language.
        checks: The health gates, in order of precedence.
        notes: Remarks that do not block (metrics without a sequential reading, no guardrails).
    """

    label: VerdictLabel
    reason: str
    checks: tuple[HealthCheck, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        """True when no health gate failed: nothing is wrong with the data or the guardrails.

        A sample still being collected is not a failure (see `complete`).
        """
        return all(check.status != "failed" for check in self.checks)

    @property
    def complete(self) -> bool:
        """True when no gate waits for more data.

        The planned sample and duration are in, or a sequential boundary was crossed.
        """
        return all(check.status != "incomplete" for check in self.checks)

    def exit_code(self, *, fail_on_incomplete: bool = False, fail_on: Collection[str] = ()) -> int:
        """The command line's exit code for this verdict: 0 or 1.

        1 when a gate failed, or, with ``fail_on_incomplete``, when the data are not all in
        yet (`complete` is False), or when the label is one of ``fail_on`` (keys of
        `VERDICT_KEYS`: "roll-back", "keep-running", ...); else 0.

        Raises:
            InputError: A ``fail_on`` entry is not a key of `VERDICT_KEYS`.

        Examples:
            >>> decision = Verdict(ROLL_BACK, "treatment moved spend the wrong way.")
            >>> decision.exit_code(), decision.exit_code(fail_on=["roll-back"])
            (0, 1)
        """
        unwanted = {VERDICT_KEYS[check_choice("fail_on", key, VERDICT_KEYS)] for key in fail_on}
        if not self.healthy or (fail_on_incomplete and not self.complete):
            return 1
        return 1 if self.label in unwanted else 0

    @property
    def key(self) -> str:
        """The label's short name ("roll-back", "no-effect", ...; see `VERDICT_KEYS`)."""
        return next(key for key, label in VERDICT_KEYS.items() if label == self.label)

    def __iter__(self) -> Iterator[str]:
        return iter((self.label, self.reason))

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "label": self.label,
            "reason": self.reason,
            "healthy": self.healthy,
            "complete": self.complete,
            "checks": [check.to_dict() for check in self.checks],
            "notes": list(self.notes),
        }


class _Evidence:
    """Each comparison's outcome: its sequential reading's where there is one, else its own."""

    def __init__(self, readings: Sequence[SequentialReading]) -> None:
        self.readings = {(r.metric, r.treatment): r for r in readings if r.looks is not None}

    def reading(self, c: Comparison) -> SequentialReading | None:
        return self.readings.get((c.metric, c.treatment))

    def outcome(self, c: Comparison) -> str:
        reading = self.reading(c)
        return c.outcome if reading is None else reading.outcome

    def p_value(self, c: Comparison) -> float:
        reading = self.reading(c)
        p = c.p_value if reading is None else reading.p_value
        return p if math.isfinite(p) else 1.0

    def movement(self, c: Comparison) -> str:
        """``up 3% [+1.6%, +4.42%] (p=...)``, or the current lift and the sequential sentence."""
        reading = self.reading(c)
        if reading is None:
            return _movement(c)
        verb = "up" if c.result.effect > 0 else "down"
        return f"{verb} {_estimate(c, signed=False)}: {reading.sentence()}"


def verdict(
    result: AnalysisResult,
    plan: AnalysisPlan | None = None,
    *,
    sequential: Sequence[SequentialReading] = (),
    today: dt.date | None = None,
    days_run: int | None = None,
    units_per_day: float | None = None,
) -> Verdict:
    """Decide: ship, roll back, keep running, or fix the data first.

    Health gates come first and override the metrics, in this order:

    1. **Sample ratio.** A split that differs from the plan (p < ``srm_alpha``, 0.001 by
       default) means assignment or logging is broken: "Don't trust — fix the data"
       (status "failed").
    2. **Sample size.** Fewer units than ``planned.sample_size``, or fewer days than
       ``planned.duration_days`` since ``planned.start_date``: "Inconclusive — keep running",
       with the days remaining where the plan allows an estimate (status "incomplete": not
       wrong, just not done): at the traffic observed in the plan's ``time`` column when the
       readout knows it (``units_per_day``), else at the traffic since ``planned.start_date``,
       else at the planned traffic (``sample_size / duration_days``). Without a start date,
       the days the ``time`` column spans (``days_run``) count as the days elapsed. With
       sequential readings, a crossed boundary (a primary metric either way, or a guardrail
       the wrong way) lifts this gate: that is the point of a sequential design. A
       fixed-horizon p-value never does.
    3. **Guardrails.** A guardrail significantly worse (in its bad direction): "Roll back"
       (status "failed"). A guardrail with a sequential reading is worse only once its
       boundary is crossed.

    With segments, one more check, a warning that does not block: each segment's split
    (``result.segments[label].srm``, at ``srm_alpha`` over the number of segments). A segment
    off while the overall split is fine means the segment column is affected by the treatment
    or logged differently by arm: the overall results stand, that segment's do not.

    Then the primary metrics: one significantly better in its desired direction, none worse
    and no guardrail worse gives "Ship"; a primary significantly worse gives "Roll back";
    anything else is "Inconclusive — keep running", with the effect the data could have
    detected, because a flat result without power is not evidence of no effect. Once the plan's
    sample (or duration) is in, a flat result is final: "No detectable effect", with the lifts
    the confidence interval rules out in the metric's good direction. A comparison
    with a sequential reading is judged by it (its boundary, not its fixed-horizon p-value).

    Args:
        result: The analysis.
        plan: The plan (planned sample, duration, sequential method); optional.
        sequential: The sequential readings (`ablens.readout.sequential_readings`), when the
            plan declares a sequential method.
        today: The date to count days from (default: today, UTC).
        days_run: Days the data span (the plan's ``time`` column, first to last look), if
            known (`ablens.decision_context.experiment_traffic`).
        units_per_day: Units a day over all arms in those days, if known.

    Returns:
        The verdict; ``label, reason = verdict(...)`` unpacks it.

    Examples:
        >>> import ablens
        >>> data = {
        ...     "control": ablens.Moments.from_summary(
        ...         10_000, mean={"spend": 10.0}, variance={"spend": 25.0}
        ...     ),
        ...     "treatment": ablens.Moments.from_summary(
        ...         10_000, mean={"spend": 10.3}, variance={"spend": 25.0}
        ...     ),
        ... }
        >>> result = ablens.analyze(data, [ablens.Mean("spend")], control="control")
        >>> label, reason = verdict(result)
        >>> label
        'Ship'
        >>> print(reason)
        treatment raised spend by 3% [+1.6%, +4.42%] (p=2.219e-05); the plan declares no
        guardrail to check.
    """
    planned = plan.planned if plan is not None else Planned()
    method = plan.sequential if plan is not None else "none"
    today = today or dt.datetime.now(dt.UTC).date()
    evidence = _Evidence(sequential)
    notes: list[str] = []
    if method != "none" and not evidence.readings:
        notes.append(
            f"The plan declares the {method} sequential method, but no look was read; this "
            "readout uses fixed-horizon tests, valid only at the planned sample size."
        )
    for reading in sequential:
        if reading.looks is None:
            notes.append(
                f"{reading.metric} ({reading.treatment}) has no sequential reading ("
                f"{reading.reason}); its fixed-horizon test is valid only at the planned "
                "sample size."
            )
        elif reading.looks.decision == "inconsistent":
            notes.append(
                f"{reading.metric} ({reading.treatment}): the always-valid intervals of "
                "different looks no longer overlap, so the effect is not constant over time "
                "(novelty, a change mid-experiment); read it by period before deciding."
            )
    early = _early_stop(result, evidence)
    checks = [
        _srm_check(result),
        _sample_check(
            result,
            planned,
            today,
            early,
            sequential=bool(evidence.readings),
            days_run=days_run,
            units_per_day=units_per_day,
        ),
    ]
    guardrail_worse = [
        c for c in result.comparisons if c.role == "guardrail" and evidence.outcome(c) == "worse"
    ]
    if guardrail_worse:
        worst = min(guardrail_worse, key=evidence.p_value)
        checks.append(
            HealthCheck(
                "guardrails",
                passed=False,
                message=f"{worst.metric}, a guardrail, got worse with {_arm(worst.treatment)}: "
                f"{evidence.movement(worst)}; look for the cause before any rollout.",
            )
        )
    elif any(c.role == "guardrail" for c in result.comparisons):
        checks.append(HealthCheck("guardrails", passed=True, message="No guardrail got worse."))
    else:
        notes.append("The plan declares no guardrail metric.")
    if result.segments:
        checks.append(_segment_srm_check(result))  # last: a warning, it decides nothing
    label, reason = _decide(result, checks, planned, evidence)
    return Verdict(label, reason, tuple(checks), tuple(notes))


def data_verdict(problems: Sequence[str]) -> Verdict:
    """The verdict when the data fail the checks and nothing could be analyzed.

    "Don't trust — fix the data", with one failed "data" check per problem (duplicate units,
    labels not in the plan's arms, NULL values, ...), so that a report can still say what is
    wrong instead of saying nothing.

    Args:
        problems: What is wrong, one sentence each (at least one).

    Returns:
        The verdict.

    Raises:
        ValueError: ``problems`` is empty.

    Examples:
        >>> decision = data_verdict(["column 'user_id' repeats unit ids: 3 row(s)"])
        >>> decision.label, decision.healthy, [c.status for c in decision.checks]
        ("Don't trust — fix the data", False, ['failed'])
        >>> print(decision.reason)
        The data fail 1 check, so nothing was analyzed: column 'user_id' repeats unit ids: 3
        row(s). Fix the data and run again.
    """
    problems = [str(problem).strip().rstrip(".") for problem in problems]
    if not problems:
        raise ValueError("problems is empty, must name at least one problem with the data")
    checks = tuple(HealthCheck("data", passed=False, message=f"{p}.") for p in problems)
    count = len(problems)
    listed = "; ".join(problems[:3])
    if count > 3:
        listed += f"; and {count - 3} more (see the checks)"
    reason = (
        f"The data fail {count} check{'s' if count != 1 else ''}, so nothing was analyzed: "
        f"{listed}. Fix the data and run again."
    )
    return Verdict(FIX_DATA, reason, checks)


def _early_stop(result: AnalysisResult, evidence: _Evidence) -> str | None:
    """The sequential stop that lets the experiment end early, as a sentence, or None.

    A primary metric's boundary crossed either way, or a guardrail's crossed the wrong way.
    """
    stops = [
        (c, reading)
        for c in result.comparisons
        if (reading := evidence.reading(c)) is not None
        and (
            (c.role == "primary" and reading.stopped)
            or (c.role == "guardrail" and reading.outcome == "worse")
        )
    ]
    if not stops:
        return None
    c, reading = min(stops, key=lambda pair: (pair[0].role != "primary", pair[1].p_value))
    return f"for {c.metric} ({c.treatment}) {reading.sentence()}"


def _srm_check(result: AnalysisResult) -> HealthCheck:
    srm = result.srm
    shares = " / ".join(f"{w:.0%}" for w in srm.weights)
    observed = " / ".join(f"{n:,}" for n in srm.observed)
    p_text = _p(srm.p_value)
    if srm.mismatch:
        return HealthCheck(
            "sample-ratio",
            passed=False,
            message=f"The arms got {observed} units where the plan expects {shares} (sample-ratio "
            f"mismatch, {p_text}); find why assignment or logging lost units before "
            "reading any metric.",
        )
    message = f"The split {observed} matches the planned {shares} ({p_text})."
    if srm.p_value < SRM_WATCH_LEVEL:
        message = (
            f"The split {observed} passes the sample-ratio check against the planned {shares} "
            f"({p_text}: above the {render.format_number(srm.alpha)} threshold that blocks, "
            f"below {SRM_WATCH_LEVEL:g}); no mismatch is declared, but watch the split at the "
            "next readout."
        )
    return HealthCheck("sample-ratio", passed=True, message=message)


def _segment_srm_check(result: AnalysisResult) -> HealthCheck:
    """Each segment's split, checked at ``srm_alpha`` over the number of segments (Bonferroni).

    A warning, not a failure: when the overall split is fine, randomization is not in doubt,
    and a segment whose split is off most often means the segment column is affected by the
    treatment (a platform or plan chosen after assignment) or logged differently by arm. The
    overall results stand; that segment's results do not.
    """
    segments = result.segments
    count = len(segments)
    threshold = next(iter(segments.values())).srm.alpha
    # The divisor counts every segment found, those too thin to analyze included.
    found = round(result.srm.alpha / threshold)
    basis = (
        f"each checked at p < {render.format_pvalue(threshold)}: Bonferroni, "
        f"{render.format_pvalue(result.srm.alpha)} over {found} segment{'s' if found != 1 else ''}"
    )
    off = [(label, r.srm) for label, r in segments.items() if r.srm.mismatch]
    if not off:
        return HealthCheck(
            "segment-ratio",
            passed=True,
            message=f"The split matches the plan in all {count} segments ({basis}).",
        )
    listed = "; ".join(
        f"{label} {' / '.join(f'{n:,}' for n in srm.observed)} ({_p(srm.p_value)})"
        for label, srm in sorted(off, key=lambda pair: pair[1].p_value)
    )
    cause = (
        "the overall split is off too (see the sample-ratio check)"
        if result.srm.mismatch
        else "the overall split is fine, so the segment column is probably affected by the "
        "treatment or logged differently by arm"
    )
    return HealthCheck(
        "segment-ratio",
        passed=False,
        warning=True,
        message=f"The split is off in {len(off)} of {count} segments ({basis}): {listed}; "
        f"{cause}: do not read {'that segment' if len(off) == 1 else 'those segments'} "
        "until the cause is known.",
    )


def _still_needed(
    units: int,
    planned: Planned,
    today: dt.date,
    days_run: int | None,
    units_per_day: float | None,
) -> tuple[list[str], int | None, float | None]:
    """What is missing of the planned sample and duration, the days it takes, the traffic."""
    elapsed = days_run
    if planned.start_date is not None:
        elapsed = max((today - planned.start_date).days, 0)
    if units_per_day is None and elapsed:
        units_per_day = units / elapsed
    remaining: list[float] = []
    problems: list[str] = []
    if planned.sample_size is not None and units < planned.sample_size:
        share = units / planned.sample_size
        problems.append(f"{units:,} of the planned {planned.sample_size:,} units ({share:.0%})")
        missing = planned.sample_size - units
        if units_per_day:
            remaining.append(missing / units_per_day)
        elif planned.duration_days:
            remaining.append(missing / (planned.sample_size / planned.duration_days))
    if (
        planned.duration_days is not None
        and elapsed is not None
        and elapsed < planned.duration_days
    ):
        problems.append(f"day {elapsed} of {planned.duration_days:g}")
        remaining.append(planned.duration_days - elapsed)
    days = math.ceil(max(remaining) - 1e-9) if remaining else None
    return problems, days, units_per_day


def days_still_needed(
    units: int,
    planned: Planned,
    *,
    today: dt.date | None = None,
    days_run: int | None = None,
    units_per_day: float | None = None,
) -> int | None:
    """The days until the planned sample and duration are in: the verdict's "about N more days".

    The sample still missing at the current traffic (``units_per_day``, else the traffic since
    ``planned.start_date``, else the planned ``sample_size / duration_days``), or the
    planned duration minus the days elapsed (since ``planned.start_date``, else ``days_run``),
    whichever is longer, rounded up.

    Args:
        units: Units in all arms so far.
        planned: The plan's ``planned`` mapping.
        today: The date to count days from (default: today, UTC).
        days_run: Days the data span (the plan's ``time`` column), if known.
        units_per_day: Units a day over all arms, if known.

    Returns:
        The days, 0 when both are in, or None when the plan gives no way to estimate them.

    Examples:
        >>> from ablens.analysis_plan.model import Planned
        >>> days_still_needed(6_000, Planned(sample_size=20_000), units_per_day=1_000.0)
        14
        >>> days_still_needed(6_000, Planned(sample_size=20_000, duration_days=21), days_run=6)
        15
    """
    today = today or dt.datetime.now(dt.UTC).date()
    problems, days, _ = _still_needed(units, planned, today, days_run, units_per_day)
    if not problems:
        return 0
    return days


def _sample_check(
    result: AnalysisResult,
    planned: Planned,
    today: dt.date,
    early: str | None = None,
    *,
    sequential: bool = False,
    days_run: int | None = None,
    units_per_day: float | None = None,
) -> HealthCheck:
    units = sum(result.counts)
    problems, days, units_per_day = _still_needed(units, planned, today, days_run, units_per_day)
    if not problems:
        if planned.sample_size is None and planned.duration_days is None:
            return HealthCheck(
                "sample-size",
                passed=True,
                message=f"{units:,} units; the plan sets no sample size to reach.",
            )
        return HealthCheck(
            "sample-size", passed=True, message=f"{units:,} units: the planned sample is in."
        )
    if early is not None:
        return HealthCheck(
            "sample-size",
            passed=True,
            message=f"Early stop allowed: {early}, with {' and '.join(problems)} in; a "
            "sequential design may stop before its planned sample.",
        )
    message = "Only " + " and ".join(problems)
    if days is not None:
        basis = "at the current traffic" if units_per_day else "at the planned traffic"
        message += f"; about {days} more day{'s' if days != 1 else ''} {basis}"
    if sequential:
        message += (
            "; no sequential boundary has been crossed yet, so keep running (the sequential "
            "readout stays valid however often it is read)."
        )
    else:
        message += (
            "; results read before then are not final (looking early without a sequential "
            "method inflates false positives)."
        )
    return HealthCheck("sample-size", passed=False, message=message, incomplete=True)


def _decide(
    result: AnalysisResult,
    checks: Sequence[HealthCheck],
    planned: Planned,
    evidence: _Evidence,
) -> tuple[VerdictLabel, str]:
    by_name = {c.name: c for c in checks}
    if not by_name["sample-ratio"].passed:
        return FIX_DATA, by_name["sample-ratio"].message
    if not by_name["sample-size"].passed:
        return KEEP_RUNNING, by_name["sample-size"].message
    if "guardrails" in by_name and not by_name["guardrails"].passed:
        return ROLL_BACK, by_name["guardrails"].message
    primaries = [c for c in result.comparisons if c.role == "primary"]
    if not primaries:
        return KEEP_RUNNING, "No primary metric is declared, so nothing can decide; mark one."
    has_guardrails = any(c.role == "guardrail" for c in result.comparisons)
    worse_arms = {c.treatment for c in primaries if evidence.outcome(c) == "worse"}
    winners = [
        c for c in primaries if evidence.outcome(c) == "better" and c.treatment not in worse_arms
    ]
    if winners:
        c = min(winners, key=evidence.p_value)
        verb = "raised" if c.result.effect > 0 else "lowered"
        tail = (
            ", and no guardrail got worse"
            if has_guardrails
            else "; the plan declares no guardrail to check"
        )
        others = sorted(worse_arms)
        if others:
            tail += (
                f"; drop {', '.join(_arm(a) for a in others)}, which moved a primary metric "
                "the wrong way"
            )
        reading = evidence.reading(c)
        if reading is None:
            return SHIP, f"{_arm(c.treatment)} {verb} {c.metric} by {_lift(c, signed=False)}{tail}."
        lift = _estimate(c, signed=False)
        arm = _arm(c.treatment)
        return SHIP, f"{arm} {verb} {c.metric} by {lift}: {reading.sentence()}{tail}."
    worse = [c for c in primaries if evidence.outcome(c) == "worse"]
    if worse:
        c = min(worse, key=evidence.p_value)
        return (
            ROLL_BACK,
            f"{_arm(c.treatment)} moved {c.metric} the wrong way: {evidence.movement(c)}.",
        )
    if planned.sample_size is not None or planned.duration_days is not None:
        return NO_EFFECT, _final_flat_reason(primaries, planned, evidence)
    return KEEP_RUNNING, _flat_reason(primaries, planned, evidence)


def _arm(name: str) -> str:
    """An arm's name as the subject of a sentence: ``arm 2`` for a bare number.

    Examples:
        >>> _arm("2"), _arm("new_checkout")
        ('arm 2', 'new_checkout')
    """
    try:
        float(name)
    except ValueError:
        return name
    return f"arm {name}"


def _final_flat_reason(
    primaries: Sequence[Comparison], planned: Planned, evidence: _Evidence
) -> str:
    """Why a flat result at the planned size is final, and what its interval rules out."""
    read = [c for c in primaries if evidence.reading(c) is not None]
    if read:
        c = min(read, key=evidence.p_value)
        reading = evidence.reading(c)
        assert reading is not None  # noqa: S101 - filtered just above
        return (
            f"No primary metric crossed its sequential boundary by the planned sample: "
            f"{c.metric} {_estimate(c)}, and {reading.sentence()}."
        )
    c = min(primaries, key=lambda c: c.p_value)
    text = f"At the planned size no primary metric moved beyond chance: {c.metric} {_lift(c)}"
    ruled_out = _ruled_out(c)
    if ruled_out is not None:
        return f"{text}; {ruled_out}."
    detectable = _detectable(c, planned.power)
    if detectable is not None:
        text += (
            f"; the planned sample detects a change of about ±{detectable} with "
            f"{planned.power:.0%} power, so a larger effect is unlikely"
        )
    return text + "."


def _ruled_out(c: Comparison) -> str | None:
    """``the 95% interval rules out a lift above +2.4%``: the bound in the good direction.

    The lift's bound when the lift's set is a bounded interval, else the effect's; None when
    that bound is not finite.
    """
    r = c.result
    increase = c.direction != "decrease"
    adjusted = c.adjusted_relative_ci is not None or c.adjusted_effect_ci is not None
    level = "multiplicity-adjusted" if adjusted else f"{r.confidence_level:.0%}"
    if math.isfinite(r.relative_effect) and r.relative_ci_shape == "bounded":
        lower, upper = r.relative_ci_lower, r.relative_ci_upper
        if c.adjusted_relative_ci is not None:
            lower, upper = c.adjusted_relative_ci
        bound = upper if increase else lower
        if math.isfinite(bound):
            side = "a lift above" if increase else "a drop below"
            return f"the {level} interval rules out {side} {render.format_percent(bound)}"
        return None
    lower, upper = r.effect_ci_lower, r.effect_ci_upper
    if c.adjusted_effect_ci is not None:
        lower, upper = c.adjusted_effect_ci
    bound = upper if increase else lower
    if not math.isfinite(bound):
        return None
    side = "an effect above" if increase else "an effect below"
    return f"the {level} interval rules out {side} {render.format_number(bound, signed=True)}"


def _lift(c: Comparison, *, signed: bool = True) -> str:
    """``3% [+1.6%, +4.42%] (p=2.219e-05)``: the lift (the effect if no lift), its CI and p."""
    r = c.result
    p_part = _p(c.p_value)
    if math.isfinite(r.relative_effect):
        value = r.relative_effect if signed else abs(r.relative_effect)
        shown = render.format_percent(value, signed=signed)
        return f"{shown} {c.relative_interval_text} ({p_part})"
    value = r.effect if signed else abs(r.effect)
    return f"{render.format_number(value, signed=signed)} ({p_part})"


def _p(value: float) -> str:
    """``p=0.0123`` or ``p<1e-10``."""
    text = render.format_pvalue(value)
    return f"p{text}" if text.startswith("<") else f"p={text}"


def _movement(c: Comparison) -> str:
    verb = "up" if c.result.effect > 0 else "down"
    return f"{verb} {_lift(c, signed=False)}"


def _estimate(c: Comparison, *, signed: bool = True) -> str:
    """``3%``: the current lift (the effect if no lift), without the fixed-horizon interval."""
    r = c.result
    if math.isfinite(r.relative_effect):
        value = r.relative_effect if signed else abs(r.relative_effect)
        return render.format_percent(value, signed=signed)
    value = r.effect if signed else abs(r.effect)
    return render.format_number(value, signed=signed)


def _flat_reason(
    primaries: Sequence[Comparison], planned: Planned, evidence: _Evidence | None = None
) -> str:
    read = [c for c in primaries if evidence is not None and evidence.reading(c) is not None]
    if evidence is not None and read:
        c = min(read, key=evidence.p_value)
        reading = evidence.reading(c)
        assert reading is not None  # noqa: S101 - filtered just above
        return (
            f"No primary metric crossed its sequential boundary: {c.metric} "
            f"{_estimate(c)} so far, and {reading.sentence()}; a flat result without power "
            "is not evidence of no effect."
        )
    c = min(primaries, key=lambda c: c.p_value)
    text = f"No primary metric moved beyond chance: {c.metric} {_lift(c)}"
    detectable = _detectable(c, planned.power)
    if detectable is not None:
        text += (
            f"; with this much data only a change of about ±{detectable} would be detected "
            f"with {planned.power:.0%} power"
        )
    return text + ", and a flat result without power is not evidence of no effect."


def _detectable(c: Comparison, power: float) -> str | None:
    """The smallest effect detectable with ``power``, from the comparison's standard error."""
    r = c.result
    if not (math.isfinite(r.standard_error) and r.standard_error > 0):
        return None
    effect = detectable_effect(
        r.standard_error, alpha=c.alpha, power=power, alternative=r.alternative
    )
    if r.control_estimate != 0 and math.isfinite(r.control_estimate):
        return render.format_percent(effect / abs(r.control_estimate), signed=False)
    return render.format_number(effect)
