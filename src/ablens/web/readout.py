"""The readout pages: upload a file, say what its columns mean, read the result at its own URL.

The flow, each step a page with its own address:

1. ``/readout``: choose a CSV or parquet file (or one of the plans the server was started with).
   With ``ablens serve --demo`` the page opens on the demo's readout instead.
2. ``/readout/file/<key>``: the uploaded file is kept on the server under a random key (in one
   temporary folder the app owns, ``ablens-web-<pid>-*``, removed at shutdown, and at the next
   start-up if the server was killed: `ablens.web.guards.remove_stale_uploads`); the page
   previews its first rows, each column's type and number of distinct values, and asks what the
   columns mean: the arm column and its control, the unit id, the primary metric, guardrails,
   the planned split, the reading. An error in a choice comes back on this page with the file
   still kept.
3. ``/readout/<key>``: the readout, result first, at an address to share; the report, a plan
   file that ``ablens analyze`` runs on the same file, and "Analyze another file".

The plan is built by `ablens.analysis_plan.plan_from_dict` (the plan's rules, its messages, its
defaults) and run by `ablens.readout.run_readout`, like ``ablens analyze`` does; this module
only reads the form, keeps files and pages, and lays them out. The work that reads the file
(its preview, the plan's metrics, the readout and its report) runs in the app's compute pool
(`ablens.web.compute`) within the readout time limit.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request  # noqa: TC002 - FastAPI reads the routes' annotations at run time
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from ablens.calculator import SEQUENTIAL_CHOICES
from ablens.errors import AblensError
from ablens.typing import DEFAULT_SPENDING, SPENDING_NAMES
from ablens.web.compute import TimeLimitExceeded, WorkerLost, time_limit_message
from ablens.web.guards import REPORT_CSP, UPLOAD_PREFIX, upload_folder

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping, Sequence

    from fastapi import FastAPI

    from ablens.analysis_plan import AnalysisPlan
    from ablens.data.profile import TablePreview
    from ablens.web.compute import Work

    #: ``compute(work, function, *args)``: the app's way to run `function` in its compute pool.
    Compute = Callable[..., Awaitable[Any]]

__all__ = [
    "MAX_KEPT_READOUTS",
    "MAX_KEPT_UPLOADS",
    "UPLOAD_FOLDER_PREFIX",
    "UPLOAD_MAX_AGE_SECONDS",
    "UploadError",
    "add_readout_routes",
]

#: Readouts kept in memory for their address (oldest dropped first).
MAX_KEPT_READOUTS = 32
#: Uploaded files kept on disk while their columns are chosen (oldest removed first).
MAX_KEPT_UPLOADS = 16
#: An uploaded file is removed this long after it was sent.
UPLOAD_MAX_AGE_SECONDS = 3600.0
#: The prefix of the one temporary folder the app keeps its uploads in (then the server's pid).
UPLOAD_FOLDER_PREFIX = UPLOAD_PREFIX
UPLOAD_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
#: The first rows shown in the preview.
PREVIEW_ROWS = 5
#: Columns with at most this many distinct values list them (the control is chosen among them).
MAX_ARM_VALUES = 50
_CHUNK = 1024 * 1024
#: Room for the multipart framing and the other form fields around the file.
FORM_OVERHEAD = 64 * 1024
_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")

SEQUENTIAL_LABELS = {
    "none": "once, at the planned size",
    "group-sequential": "at a few planned looks, may stop early (group-sequential; needs the "
    "planned users)",
    "msprt": "any time, e.g. daily (always valid: mSPRT)",
    "confidence-sequence": "any time, with intervals (always valid: confidence sequence)",
}
SPENDING_LABELS = {
    "obrien-fleming": "O'Brien-Fleming: strict early, close to a fixed test at the end",
    "pocock": "Pocock: even over the looks",
    "hsd": "Hwang-Shih-DeCani (gamma -4)",
    "power": "Kim-DeMets power (rho 3)",
}


class UploadError(ValueError):
    """An upload or a choice refused before analysis, with a message for the page."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[type[UploadError], tuple[str, int]]:
        """Pickle with the status (the error may come back from a compute worker)."""
        return (type(self), (str(self), self.status))


def human_bytes(size: float) -> str:
    """``9.8 KB``, ``50.0 MB``: a size for people."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


# ------------------------------------------------------------------------------- plans served
@dataclass(frozen=True)
class PlanChoice:
    """A plan the server was started with, parsed once when the app is created.

    Attributes:
        key: Its value in the form.
        path: The plan file.
        label: What the page shows.
        plan: The parsed plan, or None when it is invalid.
        error: Why it cannot be used, or None.
    """

    key: str
    path: Path
    label: str
    plan: AnalysisPlan | None = None
    error: str | None = None


def _read_plan(index: int, path: Path) -> PlanChoice:
    """Parse one served plan; an invalid one keeps its named error, never raises."""
    from ablens.analysis_plan import load_plan  # noqa: PLC0415 - needs PyYAML, only with plans

    try:
        loaded = load_plan(path)
    except AblensError as error:
        return PlanChoice(str(index), path, path.name, error=str(error))
    except Exception as error:
        message = f"{path.name} could not be read ({type(error).__name__})."
        return PlanChoice(str(index), path, path.name, error=message)
    return PlanChoice(str(index), path, f"{loaded.experiment_id} ({path.name})", plan=loaded)


class ServedPlans:
    """The plans the server was started with, each parsed once per version of its file.

    Parsed when the app is created; a view of the page only compares each file's modification
    time and size, and parses a plan again only when its file changed.
    """

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = tuple(paths)
        self._kept: dict[int, tuple[tuple[int, int], PlanChoice]] = {}
        self._lock = threading.Lock()
        self.choices()

    def choices(self) -> list[PlanChoice]:
        """Every served plan, parsed or with its error."""
        found = []
        with self._lock:
            for index, path in enumerate(self.paths):
                try:
                    stat = path.stat()
                except OSError:
                    version = (0, -1)  # missing: load_plan says so
                else:
                    version = (stat.st_mtime_ns, stat.st_size)
                kept = self._kept.get(index)
                if kept is None or kept[0] != version:
                    kept = (version, _read_plan(index, path))
                    self._kept[index] = kept
                found.append(kept[1])
        return found


# ------------------------------------------------------------------------------- kept files
@dataclass(frozen=True)
class KeptUpload:
    """An uploaded file kept while its columns are chosen.

    Attributes:
        key: Its random key (in its address).
        path: The file on the server.
        filename: The name it was uploaded with.
        created: When it arrived (``time.monotonic``).
        preview: Its columns and first rows.
    """

    key: str
    path: Path
    filename: str
    created: float
    preview: TablePreview


class UploadStore:
    """The uploaded files, in one temporary folder, bounded in count and age.

    The folder (``ablens-web-<pid>-*``, `ablens.web.guards.upload_folder`) is made on the first
    upload and removed by `close` (the app's shutdown); if the server is killed, the next
    server's start-up removes it (`ablens.web.guards.remove_stale_uploads`).
    """

    def __init__(self, max_count: int | None = None, max_age: float | None = None) -> None:
        self.max_count = MAX_KEPT_UPLOADS if max_count is None else max_count
        self.max_age = UPLOAD_MAX_AGE_SECONDS if max_age is None else max_age
        self._root: Path | None = None
        self._kept: OrderedDict[str, KeptUpload] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The app's upload folder (made on first use)."""
        with self._lock:
            if self._root is None or not self._root.is_dir():
                self._root = upload_folder()
                # Also at exit and when the store is dropped without the app's shutdown.
                weakref.finalize(self, shutil.rmtree, self._root, ignore_errors=True)
            return self._root

    def new_folder(self) -> tuple[str, Path]:
        """A new random key and its empty folder."""
        key = secrets.token_urlsafe(16)
        folder = self.root / key
        folder.mkdir()
        return key, folder

    def add(self, upload: KeptUpload) -> None:
        """Keep an upload; remove the oldest beyond the count, and any past the age."""
        with self._lock:
            self._kept[upload.key] = upload
            self._expire_locked()

    def get(self, key: str) -> KeptUpload | None:
        """The kept upload of ``key``, or None when unknown or removed."""
        with self._lock:
            self._expire_locked()
            return self._kept.get(key)

    def _expire_locked(self) -> None:
        now = time.monotonic()
        for key, kept in list(self._kept.items()):
            if len(self._kept) > self.max_count or now - kept.created > self.max_age:
                del self._kept[key]
                shutil.rmtree(kept.path.parent, ignore_errors=True)

    def discard(self, folder: Path) -> None:
        """Remove a folder whose upload was refused."""
        shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Remove every kept file and the folder."""
        with self._lock:
            self._kept.clear()
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None


@dataclass(frozen=True)
class KeptReadout:
    """A readout kept for its address.

    Attributes:
        report: The report page (self-contained HTML).
        title: The experiment's id (the report's file name).
        verdict: The verdict's label (the page's title).
        plan_yaml: The plan file the form described (None for a served plan).
        upload_key: The kept upload it was read from, or None.
        filename: The uploaded file's name, or "".
    """

    report: str
    title: str
    verdict: str
    plan_yaml: str | None = None
    upload_key: str | None = None
    filename: str = ""


@dataclass
class ReadoutState:
    """What the readout routes keep: served plans, uploads and readouts."""

    served: ServedPlans
    uploads: UploadStore
    max_upload_bytes: int
    open_first: bool = False
    readouts: OrderedDict[str, KeptReadout] = field(default_factory=OrderedDict)
    first_key: str | None = None
    first_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def keep(self, readout: KeptReadout, *, pinned: bool = False) -> str:
        """Store a readout under a new random key; drop the oldest beyond the bound."""
        key = secrets.token_urlsafe(16)
        self.readouts[key] = readout
        while len(self.readouts) > MAX_KEPT_READOUTS:
            oldest = next(k for k in self.readouts if k != self.first_key)
            del self.readouts[oldest]
        if pinned:
            self.first_key = key
        return key


# ------------------------------------------------------------------------------- messages
def without_paths(message: str, *folders: Path, filename: str = "") -> str:
    """The message with every server path replaced: the file by its own name, folders by "".

    An engine's message about an uploaded file names the temporary path it was saved at; the
    page shows the name the file was uploaded with instead, and no other server path.
    """
    for folder in folders:
        for path in sorted(folder.glob("**/*"), key=lambda p: -len(str(p))):
            message = message.replace(str(path), filename or path.name)
            if filename:  # the data layer names a file by its name alone: the saved copy's
                message = re.sub(
                    rf"(?<![\w/\\.-]){re.escape(path.name)}(?![\w.-])", filename, message
                )
        message = message.replace(str(folder), "")
    # Anything left that looks like one of the app's temporary folders, or any absolute path.
    return re.sub(
        r"(?:[A-Za-z]:)?[/\\][^\s'\"]*" + UPLOAD_FOLDER_PREFIX + r"[^\s'\"]*", filename, message
    )


def file_error(error: Exception, filename: str, *folders: Path) -> str:
    """A message for a file that cannot be read or analyzed, in the page's words."""
    text = without_paths(str(error), *folders, filename=filename)
    if isinstance(error, AblensError):
        return text
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    kind = "parquet" if filename.lower().endswith((".parquet", ".pq")) else "CSV"
    return (
        f"{filename or 'The file'} could not be read as a {kind} file ({first.rstrip('.')}). "
        f"Check that it is a {kind} file with a header row, saved from your tool as {kind}."
    )


# ------------------------------------------------------------------------------- upload
async def save_upload(upload: UploadFile, folder: Path, limit: int) -> Path:
    """Copy the upload into `folder` under a safe name; reject a wrong type or a large file."""
    name = Path(upload.filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        shown = name or "the file"
        raise UploadError(
            f"{shown} is not a CSV or parquet file: the name must end in "
            f"{', '.join(UPLOAD_SUFFIXES)}.",
            415,
        )
    target = folder / f"upload{suffix}"
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadError(
                    f"{name} is larger than the upload limit of {human_bytes(limit)}; "
                    "analyze it with the command line (ablens analyze) or start the server "
                    "with a larger limit.",
                    413,
                )
            out.write(chunk)
    if size == 0:
        raise UploadError(f"{name} is empty.")
    with target.open("rb") as handle:
        head = handle.read(8)
    if suffix in {".parquet", ".pq"} and head[:4] != b"PAR1":
        raise UploadError(f"{name} is not a parquet file (it does not start with PAR1).", 415)
    if suffix in {".csv", ".tsv"} and (b"\x00" in head[:4] or head.startswith(b"\x89PNG")):
        raise UploadError(f"{name} is not a text CSV file (it holds binary data).", 415)
    return target


def _preview(path: Path) -> TablePreview:
    from ablens.data.profile import preview_table  # noqa: PLC0415 - needs the data extra

    return preview_table(str(path), rows=PREVIEW_ROWS, max_values=MAX_ARM_VALUES)


# ------------------------------------------------------------------------------- the choices
_UNIT_NAME = re.compile(
    r"^(?:id|uid|uuid|.*(?:user|unit|customer|client|visitor|account|member|device|player)"
    r"[_ -]?(?:id|key|uuid)?)$",
    re.IGNORECASE,
)
_ARM_NAME = re.compile(r"^(?:variant|variation|arm|group|bucket|treatment|cohort|branch)", re.I)
_CONTROL_NAMES = ("control", "ctrl", "baseline", "base", "a", "old", "0", "false")
_TIME_NAME = re.compile(r"(?:day|date|time|week|hour|_at$)", re.IGNORECASE)


def guess_arm_column(preview: TablePreview) -> str:
    """A column with 2-5 text values, one named like an arm column first; "" when none."""
    candidates = [
        name
        for name, profile in preview.columns.items()
        if not profile.numeric and 2 <= preview.distinct.get(name, 0) <= 5
    ]
    named = [name for name in candidates if _ARM_NAME.match(name)]
    if named or candidates:
        return (named or candidates)[0]
    few = [
        n for n in preview.columns if 2 <= preview.distinct.get(n, 0) <= 5 and _ARM_NAME.match(n)
    ]
    return few[0] if few else ""


def guess_control(values: Sequence[str]) -> str:
    """The value named like a control ("control", "baseline", ...), else the first."""
    lowered = {value.lower(): value for value in values}
    for name in _CONTROL_NAMES:
        if name in lowered:
            return lowered[name]
    return values[0] if values else ""


def guess_unit(preview: TablePreview, arm: str) -> str:
    """A column named like an id (user_id, id, ...), preferring one with a value per row."""
    named = [n for n in preview.columns if n != arm and _UNIT_NAME.match(n)]
    unique = [n for n in named if preview.distinct.get(n) == preview.row_count]
    return (unique or named or [""])[0]


def metric_candidates(preview: TablePreview, arm: str, unit: str, time: str) -> list[str]:
    """The numeric columns that can be metrics: not the arm, unit or time column, nor an id."""
    ids = {guess_unit(preview, arm)} - {""}
    return [
        name
        for name, profile in preview.columns.items()
        if profile.numeric and name not in {arm, unit, time, *ids}
    ]


def default_choices(preview: TablePreview) -> dict[str, Any]:
    """The form's first guess: arm column and control, unit id, a primary metric."""
    arm = guess_arm_column(preview)
    unit = guess_unit(preview, arm)
    candidates = metric_candidates(preview, arm, unit, "")
    binary = [name for name in candidates if preview.columns[name].binary]
    return {
        "variant": arm,
        "control": guess_control(preview.values.get(arm, ())),
        "unit": unit,
        "primary": (binary or candidates or [""])[0],
        "primary_direction": "increase",
        "guardrails": [],
        "directions": {},
        "secondary": [],
        "shares": {},
        "time": "",
        "sequential": "none",
        "planned": "",
        "spending": DEFAULT_SPENDING,
        "bayesian": "",
    }


def read_choices(form: Mapping[str, Any], preview: TablePreview) -> dict[str, Any]:
    """The choices as posted (text only, trimmed), in the shape of `default_choices`."""

    def text(name: str) -> str:
        value = form.get(name, "")
        return value.strip()[:200] if isinstance(value, str) else ""

    def many(name: str) -> list[str]:
        getter = getattr(form, "getlist", None)
        values = getter(name) if getter is not None else [form.get(name, "")]
        return [v for v in values if isinstance(v, str) and v in preview.columns]

    arm = text("variant")
    values = preview.values.get(arm, ())
    return {
        "variant": arm,
        "control": text("control"),
        "unit": text("unit"),
        "primary": text("primary"),
        "primary_direction": text("primary_direction") or "increase",
        "guardrails": many("guardrail"),
        "directions": {c: text(f"direction:{c}") or "increase" for c in preview.columns},
        "secondary": many("secondary"),
        "shares": {value: text(f"share:{value}") for value in values},
        "time": text("time"),
        "sequential": text("sequential") or "none",
        "planned": text("planned"),
        "spending": text("spending") or DEFAULT_SPENDING,
        "bayesian": text("bayesian"),
    }


def one_step_choices(form: Mapping[str, Any], preview: TablePreview) -> dict[str, Any]:
    """The choices of an upload that names its columns with the file.

    ``variant``, ``control`` and ``unit`` as on the column page, ``metrics`` a comma-separated
    list: the first the primary metric, the others reported as secondary.
    """
    choices = {**default_choices(preview), **read_choices(form, preview)}
    posted = form.get("metrics", "")
    metrics = [m.strip() for m in posted.split(",") if m.strip()] if isinstance(posted, str) else []
    if metrics:
        choices["primary"], choices["secondary"] = metrics[0], metrics[1:]
    elif not choices["primary"]:
        choices["primary"] = default_choices(preview)["primary"]
    for key in ("control", "unit"):
        if key not in form:
            choices[key] = default_choices(preview)[key]
    return choices


def _number(text: str) -> float | None:
    try:
        value = float(text.replace("%", "").replace(",", ".").strip())
    except ValueError:
        return None
    return value


def _planned_split(choices: Mapping[str, Any], arms: Sequence[str]) -> dict[str, float] | None:
    """The planned shares per arm, or None for an equal split (all empty or all equal)."""
    shares: Mapping[str, str] = choices["shares"]
    written = {arm: shares.get(arm, "") for arm in arms}
    if not any(written.values()):
        return None
    split: dict[str, float] = {}
    for arm, text in written.items():
        value = _number(text)
        if value is None or not value > 0:
            shown = text or "nothing"
            raise UploadError(
                f"Planned split: the share of {arm!r} is {shown}; give every arm a positive "
                "share, e.g. 90 and 10 for a 90/10 split, or leave them all empty for an "
                "equal split."
            )
        split[arm] = value
    if len(set(split.values())) == 1:
        return None
    return split


def _options(choices: Mapping[str, Any]) -> tuple[str, int | None]:
    """The reading and the planned users, checked for being among the choices / a number."""
    sequential = choices["sequential"]
    if sequential not in SEQUENTIAL_CHOICES:
        raise UploadError(f"Reading: {sequential!r} is not one of the choices.")
    if choices["spending"] not in SPENDING_NAMES:
        raise UploadError(f"Alpha spending: {choices['spending']!r} is not one of the choices.")
    planned_text = choices["planned"].replace(",", "").replace("_", "").replace(" ", "")
    planned = None
    if planned_text:
        if not planned_text.isdigit() or int(planned_text) < 2:
            raise UploadError(
                f"Planned users: {choices['planned']!r} is not a whole number of at least 2."
            )
        planned = int(planned_text)
    return sequential, planned


def experiment_name(filename: str) -> str:
    """An experiment id from the file's name (``checkout test.csv`` -> ``checkout-test``)."""
    stem = Path(filename).stem
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.")
    return cleaned or "uploaded-experiment"


def plan_spec(kept: KeptUpload, choices: Mapping[str, Any]) -> dict[str, Any]:  # noqa: PLR0912
    """The analysis plan the choices describe, in the plan file's keys.

    Raises:
        UploadError: A choice is missing or unusable (said in the page's words).
        DataError: A column is missing or not numeric (the data layer's message).
    """
    from ablens.analysis_plan.infer import infer_metrics  # noqa: PLC0415
    from ablens.metrics.base import kind_of  # noqa: PLC0415

    preview = kept.preview
    arm = choices["variant"]
    if arm not in preview.columns:
        raise UploadError("Arm column: choose the column that says which arm each row is in.")
    arms = preview.values.get(arm, ())
    if len(arms) < 2:
        count = preview.distinct.get(arm, 0)
        raise UploadError(
            f"Arm column: {arm!r} has {count:,} distinct value(s); the arm column holds a few "
            f"labels (2 to {MAX_ARM_VALUES}), such as control and treatment. Choose another column."
        )
    if choices["control"] not in arms:
        raise UploadError(f"Control arm: choose one of the values of {arm!r} ({', '.join(arms)}).")
    unit = choices["unit"] or None
    time_column = choices["time"] or None
    if not choices["primary"]:
        raise UploadError("Primary metric: choose the one metric the decision is about.")
    primary = choices["primary"]
    guardrails = [c for c in choices["guardrails"] if c != primary]
    secondary = [c for c in choices["secondary"] if c != primary and c not in guardrails]
    for role, columns in (("primary metric", [primary]), ("guardrail", guardrails)):
        for column in columns:
            if column in {arm, unit, time_column}:
                raise UploadError(
                    f"{role.capitalize()}: {column!r} is the arm, unit id or time column; "
                    "choose a column that measures the outcome."
                )
    sequential, planned = _options(choices)
    split = _planned_split(choices, arms)
    wanted = [primary, *guardrails, *secondary]
    metrics = infer_metrics(str(kept.path), variant=arm, unit=unit, wanted=wanted, time=time_column)
    roles = {primary: "primary", **dict.fromkeys(guardrails, "guardrail")}
    directions = {primary: choices["primary_direction"], **choices["directions"]}
    spec: dict[str, Any] = {
        "experiment_id": experiment_name(kept.filename),
        "description": f"Uploaded file {kept.filename}",
        # The file's own name: the plan file runs on it from the folder it is saved in.
        "source": {"path": kept.filename},
        "variant": arm,
        "control": choices["control"],
    }
    if unit is not None:
        spec["unit"] = unit
    if split is not None:
        spec["arms"] = split
    spec["metrics"] = [
        {
            "kind": kind_of(metric).name,
            "column": metric.column,
            "role": roles.get(metric.column, "secondary"),
            "direction": directions.get(metric.column, "increase"),
        }
        for metric in metrics
    ]
    if sequential != "none":
        spec["sequential"] = sequential
        spec["time"] = time_column
        if sequential == "group-sequential":  # plans refuse spending with the other methods
            spec["spending"] = choices["spending"]
    elif time_column is not None:
        spec["time"] = time_column
    if planned is not None:
        spec["planned"] = {"sample_size": planned}
    if choices["bayesian"] not in ("", "off", "false"):
        spec["bayesian"] = True
    return spec


def plan_yaml(spec: Mapping[str, Any], filename: str) -> str:
    """The plan file of a spec, with a header saying how to run it."""
    from ablens._validation import optional_import  # noqa: PLC0415

    yaml = optional_import("yaml", "cli")
    header = (
        "# Analysis plan saved from the ablens web page.\n"
        f"# Keep it next to {filename} and run:  ablens analyze plan.yaml\n"
    )
    return header + str(yaml.safe_dump(dict(spec), sort_keys=False, allow_unicode=True))


def _read_spec(spec: Mapping[str, Any]) -> AnalysisPlan:
    from ablens.analysis_plan import plan_from_dict  # noqa: PLC0415

    return plan_from_dict(dict(spec), name="the readout form")


def _run(plan: AnalysisPlan, data: Path | None) -> tuple[str, str]:
    """Run the readout and render its report: its verdict's label and the report page.

    Runs in a compute worker (`ablens.web.compute`): only the two strings come back.
    """
    from ablens.readout import run_readout  # noqa: PLC0415
    from ablens.report import render_readout  # noqa: PLC0415

    readout = run_readout(plan, data=None if data is None else str(data))
    return readout.verdict.label, render_readout(readout)


# ------------------------------------------------------------------------------- routes
def add_readout_routes(  # noqa: PLR0915 - the routes are closures over the state
    app: FastAPI,
    page: Callable[..., HTMLResponse],
    compute: Compute,
    *,
    plans: Sequence[Path],
    max_upload_bytes: int,
    open_first: bool = False,
) -> ReadoutState:
    """Add the readout pages to ``app``.

    Args:
        app: The application.
        page: Renders a template: ``page(request, name, status, **context)``.
        compute: Runs CPU work off the event loop: ``await compute("readout", function,
            *args)`` (the app's compute pool, with the readout time limit).
        plans: Plan files offered on the page, parsed once here.
        max_upload_bytes: Largest upload accepted.
        open_first: Open ``/readout`` on the first plan's readout (``ablens serve --demo``).

    Returns:
        The state the routes keep (its uploads are removed when the app shuts down).
    """
    state = ReadoutState(
        served=ServedPlans(plans),
        uploads=UploadStore(),
        max_upload_bytes=max_upload_bytes,
        open_first=open_first,
    )
    limit_text = human_bytes(max_upload_bytes)

    def upload_context(**extra: Any) -> dict[str, Any]:  # noqa: ANN401
        choices = state.served.choices()
        context: dict[str, Any] = {
            "choices": choices,
            "plan_errors": [c for c in choices if c.error is not None],
            "limit": limit_text,
            "error": None,
        }
        context.update(extra)
        return context

    def upload_page(request: Request, status: int = 200, **extra: Any) -> HTMLResponse:  # noqa: ANN401
        return page(request, "readout.html", status, **upload_context(**extra))

    def choices_context(kept: KeptUpload, choices: Mapping[str, Any]) -> dict[str, Any]:
        preview = kept.preview
        arm = choices["variant"]
        return {
            "kept": kept,
            "preview": preview,
            "form": choices,
            "arm_values": preview.values.get(arm, ()),
            "arm_columns": [
                n for n in preview.columns if 2 <= preview.distinct.get(n, 0) <= MAX_ARM_VALUES
            ],
            "metric_columns": metric_candidates(preview, arm, choices["unit"], choices["time"]),
            "sequential_labels": SEQUENTIAL_LABELS,
            "spending_labels": SPENDING_LABELS,
            "limit": limit_text,
        }

    def choices_page(
        request: Request,
        kept: KeptUpload,
        choices: Mapping[str, Any],
        status: int = 200,
        error: str | None = None,
    ) -> HTMLResponse:
        return page(
            request, "readout_columns.html", status, error=error, **choices_context(kept, choices)
        )

    def expired(request: Request, what: str) -> HTMLResponse:
        return page(request, "readout_expired.html", 404, what=what, **upload_context())

    async def run(work: Work, function: Callable[..., Any], *args: Any) -> Any:  # noqa: ANN401
        """`compute`, with a stopped calculation as an `UploadError` in the page's words."""
        try:
            return await compute(work, function, *args)
        except (TimeLimitExceeded, WorkerLost) as error:
            message = time_limit_message(error, work)
            raise UploadError(message[0].upper() + message[1:], 503) from None

    async def first_readout() -> str | None:
        """The first plan's readout (the demo's), run once on the first visit."""
        choices = state.served.choices()
        choice = choices[0] if choices else None
        if choice is None or choice.plan is None:
            return None
        async with state.first_lock:
            if state.first_key is None or state.first_key not in state.readouts:
                verdict, report = await run("readout", _run, choice.plan, None)
                kept = KeptReadout(report, choice.plan.experiment_id, verdict)
                state.keep(kept, pinned=True)
        return state.first_key

    @app.get("/readout", response_class=HTMLResponse)
    async def readout_home(request: Request) -> Response:
        if state.open_first:
            try:
                key = await first_readout()
            except Exception as error:  # the upload form still works
                name = state.served.paths[0].name
                message = f"{name} could not be read out: {without_paths(str(error))}"
                status = error.status if isinstance(error, UploadError) else 200
                return upload_page(request, status, error=message)
            if key is not None:
                return RedirectResponse(f"/readout/{key}", status_code=303)
        return upload_page(request)

    @app.post("/readout", response_class=HTMLResponse)
    async def readout_upload(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit():
            return upload_page(request, 411, error="The upload must say its size (Content-Length).")
        if int(length) > max_upload_bytes + FORM_OVERHEAD:
            message = (
                f"The file is larger than the upload limit of {limit_text}; analyze it with "
                "the command line (ablens analyze) or start the server with a larger limit."
            )
            return upload_page(request, 413, error=message)
        form = await request.form()
        upload = form.get("file")
        plan_key = form.get("plan", "")
        has_file = isinstance(upload, UploadFile) and bool(upload.filename or upload.size)
        filename = Path(upload.filename or "").name if isinstance(upload, UploadFile) else ""
        key, folder = state.uploads.new_folder()
        try:
            if plan_key:
                choice = next((c for c in state.served.choices() if c.key == plan_key), None)
                if choice is None:
                    raise UploadError("There is no such plan on this server.")
                if choice.plan is None:
                    raise UploadError(choice.error or "This plan cannot be used.")
                path = None
                if has_file and isinstance(upload, UploadFile):
                    path = await save_upload(upload, folder, max_upload_bytes)
                verdict, report = await run("readout", _run, choice.plan, path)
                kept_readout = KeptReadout(
                    report, choice.plan.experiment_id, verdict, filename=filename
                )
                state.uploads.discard(folder)
                return RedirectResponse(f"/readout/{state.keep(kept_readout)}", status_code=303)
            if not has_file or not isinstance(upload, UploadFile):
                raise UploadError("Choose a CSV or parquet file to upload, or one of the plans.")
            path = await save_upload(upload, folder, max_upload_bytes)
            preview = await run("readout", _preview, path)
        except UploadError as error:
            state.uploads.discard(folder)
            return upload_page(request, error.status, error=str(error))
        except Exception as error:
            message = file_error(error, filename, folder, state.uploads.root)
            state.uploads.discard(folder)
            return upload_page(request, 422, error=message)
        finally:
            if isinstance(upload, UploadFile):
                await upload.close()
        kept = KeptUpload(key, path, filename, time.monotonic(), preview)
        state.uploads.add(kept)
        if form.get("variant"):
            # Columns named with the file (a script, or the old one-step form): analyze now;
            # a choice that does not work comes back on the column page, the file kept.
            return await analyze_kept(request, kept, one_step_choices(form, preview), "analyze")
        return RedirectResponse(f"/readout/file/{key}", status_code=303)

    def kept_upload(key: str) -> KeptUpload | None:
        return state.uploads.get(key) if _KEY.fullmatch(key) else None

    @app.get("/readout/file/{key}", response_class=HTMLResponse)
    def readout_columns(request: Request, key: str) -> HTMLResponse:
        kept = kept_upload(key)
        if kept is None:
            return expired(request, "upload")
        return choices_page(request, kept, default_choices(kept.preview))

    @app.get("/readout/file/{key}/arms", response_class=HTMLResponse)
    def readout_arms(request: Request, key: str, variant: str = "") -> HTMLResponse:
        """The control and planned split of an arm column (swapped in when it changes)."""
        kept = kept_upload(key)
        if kept is None:
            return expired(request, "upload")
        values = kept.preview.values.get(variant, ())
        form = {
            **default_choices(kept.preview),
            "variant": variant,
            "control": guess_control(values),
        }
        return page(request, "_readout_arms.html", 200, **choices_context(kept, form))

    @app.post("/readout/file/{key}", response_class=HTMLResponse)
    async def readout_analyze(request: Request, key: str) -> Response:
        kept = kept_upload(key)
        if kept is None:
            return expired(request, "upload")
        form = await request.form()
        return await analyze_kept(
            request, kept, read_choices(form, kept.preview), form.get("action")
        )

    async def analyze_kept(
        request: Request, kept: KeptUpload, choices: Mapping[str, Any], action: object
    ) -> Response:
        """Build the plan of the choices and run it, or save it (``action == "plan"``)."""
        roots = (kept.path.parent, state.uploads.root)
        try:
            spec = await run("readout", plan_spec, kept, dict(choices))
            plan = _read_spec(spec)
            text = plan_yaml(spec, kept.filename)
            if action == "plan":
                return Response(
                    text,
                    media_type="application/x-yaml",
                    headers={"Content-Disposition": 'attachment; filename="plan.yaml"'},
                )
            verdict, report = await run("readout", _run, plan, kept.path)
        except UploadError as error:
            return choices_page(request, kept, choices, error.status, str(error))
        except Exception as error:
            return choices_page(
                request, kept, choices, 422, file_error(error, kept.filename, *roots)
            )
        kept_readout = KeptReadout(
            report, plan.experiment_id, verdict, text, kept.key, kept.filename
        )
        return RedirectResponse(f"/readout/{state.keep(kept_readout)}", status_code=303)

    def report_response(key: str, download: bool) -> Response:
        kept = state.readouts.get(key)
        if kept is None:
            return HTMLResponse(
                '<!DOCTYPE html><html lang="en"><head><title>Expired</title></head><body><p>'
                "This readout has expired: the server keeps the latest "
                f"{MAX_KEPT_READOUTS}. Analyze the file again.</p></body></html>",
                status_code=404,
            )
        headers = {"Content-Security-Policy": REPORT_CSP}
        if download:
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in kept.title)
            headers["Content-Disposition"] = f'attachment; filename="{safe}.html"'
        return HTMLResponse(kept.report, headers=headers)

    @app.get("/readout/report/{key}")
    def readout_report(key: str, download: bool = False) -> Response:
        return report_response(key, download)

    @app.get("/readout/{key}/plan.yaml")
    def readout_plan(request: Request, key: str) -> Response:
        kept = state.readouts.get(key)
        if kept is None or kept.plan_yaml is None:
            return expired(request, "readout")
        return Response(
            kept.plan_yaml,
            media_type="application/x-yaml",
            headers={"Content-Disposition": 'attachment; filename="plan.yaml"'},
        )

    @app.get("/readout/{key}", response_class=HTMLResponse)
    def readout_page(request: Request, key: str) -> HTMLResponse:
        kept = state.readouts.get(key)
        if kept is None:
            return expired(request, "readout")
        upload = state.uploads.get(kept.upload_key) if kept.upload_key else None
        return upload_page(
            request,
            readout=kept,
            readout_key=key,
            upload_key=None if upload is None else upload.key,
        )

    return state
