"""Experiment projects: ``ablens new`` renders the template, ``ablens update`` keeps it current.

A project is a folder (and a git repository) holding one experiment's analysis plan, a Metaflow
flow that runs the analysis on a schedule, a test, a Dockerfile, a CI workflow and pinned tools.
It is rendered by `copier <https://copier.readthedocs.io>`_ from the template shipped in this
package, and brought forward with copier's three-way update, which keeps the team's own edits.

Copier updates by regenerating the project from the template version it was made with, so every
released template version must stay reachable. They are the tags of a small git bundle shipped
beside the template (``template.bundle``); `new_project` and `update_project` install it as
``~/.local/share/ablens/project-template.bundle`` (or under ``$ABLENS_HOME``), and projects record
that path with its ``~``, so a teammate's checkout updates from their own copy. Maintainers add a
version with `release_template` after editing ``template/``.

Needs ``pip install 'ablens[project]'`` (copier) and git.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ablens._validation import optional_import
from ablens.errors import InputError, ProjectError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "DATA_SOURCES",
    "METRIC_CHOICES",
    "TEMPLATE_VERSION",
    "UpdateResult",
    "new_project",
    "release_template",
    "template_versions",
    "update_project",
]

#: Version of the template in ``template/``; the newest tag of ``template.bundle``.
TEMPLATE_VERSION = "1.2.0"
#: Where the experiment's table lives (the template's ``data_source`` question).
DATA_SOURCES = ("demo", "file", "duckdb", "postgres", "spark")
#: Starting metrics the template knows (the ``metrics`` question).
METRIC_CHOICES = ("conversion", "revenue_cuped", "orders_per_session", "sessions", "p90_minutes")

TEMPLATE_DIR = Path(__file__).resolve().parent / "template"
BUNDLE = Path(__file__).resolve().parent / "template.bundle"
_STORE_NAME = "project-template.bundle"
_DEFAULT_HOME = "~/.local/share/ablens"
_ANSWERS = ".copier-answers.yml"
_NAME = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]")
_VERSION = re.compile(r"\d+\.\d+\.\d+")
_CONFLICT = re.compile(r"^(<{7}|>{7}) ", re.MULTILINE)
_IDENTITY = ("-c", "user.name=ablens", "-c", "user.email=ablens@localhost")


@dataclass(frozen=True)
class UpdateResult:
    """What `update_project` did.

    Attributes:
        path: The project folder.
        old_version: Template version the project was at.
        new_version: Template version it is at now.
        changed: Files the update changed, added or removed (relative paths).
        conflicts: Files where the template's change and the project's own edit overlap; each
            holds ``<<<<<<<``/``>>>>>>>`` markers to resolve by hand before committing.
    """

    path: Path
    old_version: str
    new_version: str
    changed: tuple[str, ...]
    conflicts: tuple[str, ...]

    def __str__(self) -> str:
        if self.old_version == self.new_version and not self.changed:
            return f"{self.path}: already at template {self.new_version}; nothing to update."
        files = f"{len(self.changed)} file{'s' if len(self.changed) != 1 else ''}"
        summary = (
            f"{self.path}: template {self.old_version} -> {self.new_version}; {files} changed "
            "(review with `git diff`, then commit)."
        )
        lines = [summary]
        lines += [f"  changed: {name}" for name in self.changed if name not in self.conflicts]
        if self.conflicts:
            lines.append(
                f"{len(self.conflicts)} conflict{'s' if len(self.conflicts) != 1 else ''}: the "
                "template changed lines you edited too; keep what you want between the "
                "<<<<<<< and >>>>>>> markers, delete the markers, then commit:"
            )
            lines += [f"  conflict: {name}" for name in self.conflicts]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------ git
def _git(*args: str, cwd: Path | None = None) -> str:
    """Run git and return its stdout; a failure becomes a ProjectError with git's message."""
    if shutil.which("git") is None:
        raise ProjectError("experiment projects need git on PATH; install git and retry")
    completed = subprocess.run(  # noqa: S603 - fixed program, arguments are ours
        ["git", *args],  # noqa: S607 - git is looked up on PATH on purpose
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        message = (completed.stderr or completed.stdout).strip()
        raise ProjectError(f"git {' '.join(args[:2])} failed: {message}")
    return completed.stdout


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def template_versions(bundle: str | Path = BUNDLE) -> list[str]:
    """The released template versions in a template bundle (or repository), oldest first.

    Args:
        bundle: A git bundle or repository of the template (default: the packaged one).

    Returns:
        The ``X.Y.Z`` tags, sorted by version.

    Examples:
        >>> template_versions()[-1] == TEMPLATE_VERSION
        True
    """
    listing = _git("ls-remote", "--tags", str(Path(bundle).expanduser()))
    tags = {line.rsplit("/", 1)[-1].removesuffix("^{}") for line in listing.splitlines()}
    return sorted((tag for tag in tags if _VERSION.fullmatch(tag)), key=_version_key)


def _store() -> tuple[Path, str]:
    """The installed bundle's path, and the string projects record for it."""
    home = os.environ.get("ABLENS_HOME")
    recorded = f"{home or _DEFAULT_HOME}/{_STORE_NAME}"
    return Path(recorded).expanduser(), recorded


def _install_bundle(target: Path) -> None:
    """Put the packaged bundle at ``target`` unless a bundle with newer versions is there."""
    if target.exists():
        installed = template_versions(target)
        if installed and _version_key(installed[-1]) >= _version_key(TEMPLATE_VERSION):
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp")
    shutil.copyfile(BUNDLE, temporary)
    temporary.replace(target)


def _template_source(template: str | None) -> str:
    if template is not None:
        return template
    path, recorded = _store()
    _install_bundle(path)
    return recorded


def _copier() -> Any:  # noqa: ANN401 - copier's module
    return optional_import("copier", "project")


# ------------------------------------------------------------------------------------ new
def new_project(
    path: str | Path,
    *,
    team: str | None = None,
    experiment_id: str | None = None,
    data_source: str | None = None,
    metrics: Sequence[str] | None = None,
    schedule_cron: str | None = None,
    template: str | None = None,
    interactive: bool = False,
    git_init: bool = True,
) -> Path:
    """Render a new experiment project from the template, as a git repository.

    Args:
        path: The folder to create (must not exist, or be empty); its name is the project's
            name: lowercase letters, digits and hyphens.
        team: Team that owns the experiment (default ``"growth"``).
        experiment_id: The experiment's id (default: the project's name).
        data_source: Where the table lives: one of `DATA_SOURCES` (default ``"demo"``).
        metrics: Starting metrics, from `METRIC_CHOICES` (default: conversion, CUPED revenue,
            sessions as a guardrail).
        schedule_cron: When the flow runs in production (cron, UTC; default daily 06:00).
        template: Another copier template (git URL or path) instead of the packaged one.
        interactive: Ask the template's questions that the arguments above leave as None
            (otherwise they take the defaults).
        git_init: Make the folder a git repository with a first commit (``ablens update``
            needs one).

    Returns:
        The project folder.

    Raises:
        InputError: A bad argument (name, data source, metric).
        ProjectError: The folder is not empty, or git or the template failed.
    """
    target = Path(path).expanduser().resolve()
    name = target.name
    if not _NAME.fullmatch(name):
        raise InputError(
            f"project name == {name!r}, must be lowercase letters, digits and hyphens starting "
            "with a letter (e.g. checkout-redesign)"
        )
    if data_source is not None and data_source not in DATA_SOURCES:
        raise InputError(f"data_source == {data_source!r}, must be one of {DATA_SOURCES}")
    if metrics is not None:
        chosen = list(metrics)
        if not chosen or any(m not in METRIC_CHOICES for m in chosen):
            raise InputError(
                f"metrics == {chosen!r}, must be one or more of {', '.join(METRIC_CHOICES)}"
            )
    if team is not None and not team.strip():
        raise InputError("team == '', must name the team that owns the experiment")
    if target.exists() and any(target.iterdir()):
        raise ProjectError(f"{target} already exists and is not empty; choose a new folder")
    given = {
        "team": team,
        "experiment_id": experiment_id,
        "data_source": data_source,
        "metrics": None if metrics is None else list(metrics),
        "schedule_cron": schedule_cron,
    }
    answers = {"project_name": name} | {k: v for k, v in given.items() if v is not None}
    copier = _copier()
    try:
        copier.run_copy(
            _template_source(template),
            target,
            data=answers,
            defaults=not interactive,
            quiet=not interactive,
            unsafe=False,
        )
    except copier.errors.CopierError as error:
        raise ProjectError(f"the template could not be rendered: {error}") from error
    if git_init:
        _git("init", "--quiet", "--initial-branch=main", cwd=target)
        _git("add", "--all", cwd=target)
        version = _answers(target).get("_commit", "?")
        _commit(target, f"Create {name} from the ablens project template {version}")
    return target


def _commit(folder: Path, message: str) -> None:
    """Commit with the user's git identity, or ablens' when none is configured."""
    try:
        identity: tuple[str, ...] = (
            () if _git("config", "user.email", cwd=folder).strip() else _IDENTITY
        )
    except ProjectError:  # git exits 1 when the key is unset
        identity = _IDENTITY
    _git(*identity, "commit", "--quiet", "--message", message, cwd=folder)


def _answers(folder: Path) -> dict[str, Any]:
    yaml = optional_import("yaml", "project")
    file = folder / _ANSWERS
    if not file.is_file():
        raise ProjectError(
            f"{folder} is not an ablens project: it has no {_ANSWERS} (projects made with "
            "`ablens new` have one); run the command in the project's folder"
        )
    loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ProjectError(f"{file} is not a mapping of answers; restore it from git")
    return loaded


# --------------------------------------------------------------------------------- update
def update_project(
    path: str | Path = ".", *, conflict: Literal["inline", "rej"] = "inline"
) -> UpdateResult:
    """Bring a project to the newest template version, keeping the project's own edits.

    Copier's three-way update: the project as the old template version made it, the project as
    it is, and the project as the new version makes it; the template's changes are applied on
    top of the team's edits. The project must be a git repository with nothing uncommitted, so
    the update is one reviewable ``git diff``.

    Args:
        path: The project folder (default: the current one).
        conflict: Where overlapping changes go: ``"inline"`` markers in the file, or ``"rej"``
            files beside it.

    Returns:
        The versions, the changed files and the files with conflicts.

    Raises:
        ProjectError: Not a project, uncommitted changes, or the template failed.
    """
    folder = Path(path).expanduser().resolve()
    if conflict not in ("inline", "rej"):
        raise InputError(f"conflict == {conflict!r}, must be 'inline' or 'rej'")
    answers = _answers(folder)
    old_version = str(answers.get("_commit", "?"))
    source = str(answers.get("_src_path", ""))
    if source.endswith(f"/{_STORE_NAME}"):
        # A teammate's clone records the same "~/..." path: install this machine's copy.
        _install_bundle(Path(source).expanduser())
    if _git("status", "--porcelain", cwd=folder).strip():
        raise ProjectError(
            f"{folder} has uncommitted changes; commit or stash them first, so the update is "
            "one change you can review with `git diff`"
        )
    copier = _copier()
    try:
        copier.run_update(
            folder,
            defaults=True,
            overwrite=True,
            skip_answered=True,
            conflict=conflict,
            quiet=True,
            unsafe=False,
        )
    except copier.errors.CopierError as error:
        raise ProjectError(f"the update failed: {error}") from error
    status = _git("status", "--porcelain", "--untracked-files=all", cwd=folder)
    changed = tuple(sorted(line[3:] for line in status.splitlines() if line.strip()))
    conflicts = tuple(name for name in changed if _has_conflict(folder / name))
    new_version = str(_answers(folder).get("_commit", "?"))
    return UpdateResult(folder, old_version, new_version, changed, conflicts)


def _has_conflict(file: Path) -> bool:
    if file.suffix == ".rej":
        return True
    try:
        return bool(_CONFLICT.search(file.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError):
        return False


# -------------------------------------------------------------------------------- release
def release_template(
    version: str, *, template_dir: str | Path = TEMPLATE_DIR, bundle: str | Path = BUNDLE
) -> None:
    """Add ``template_dir`` as a new version to the template bundle (for maintainers).

    Run after changing ``template/`` (and bumping `TEMPLATE_VERSION` to ``version``):
    ``python -c "from ablens.project import release_template; release_template('1.2.0')"``.
    The bundle keeps every earlier version, which updates of older projects need.

    Args:
        version: The new version, ``X.Y.Z``, greater than every released one.
        template_dir: The template folder.
        bundle: The bundle to extend (created if missing).

    Raises:
        InputError: The version is malformed or not newer than the last release.
    """
    if not _VERSION.fullmatch(version):
        raise InputError(f"version == {version!r}, must look like 1.2.0")
    source, bundle_path = Path(template_dir), Path(bundle)
    released = template_versions(bundle_path) if bundle_path.exists() else []
    if released and _version_key(version) <= _version_key(released[-1]):
        raise InputError(f"version == {version!r}, must be newer than {released[-1]}")
    with tempfile.TemporaryDirectory(prefix="ablens-template-") as scratch:
        work = Path(scratch, "template")
        if released:
            _git("clone", "--quiet", "--branch", "main", str(bundle_path), str(work))
            for entry in work.iterdir():
                if entry.name != ".git":
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        else:
            _git("init", "--quiet", "--initial-branch=main", str(work))
        shutil.copytree(
            source, work, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
        _git("add", "--all", cwd=work)
        message = f"Template {version}"
        _git(*_IDENTITY, "commit", "--quiet", "--allow-empty", "--message", message, cwd=work)
        _git(*_IDENTITY, "tag", "--annotate", "--message", message, version, cwd=work)
        created = Path(scratch, "template.bundle")
        _git("bundle", "create", "--quiet", str(created), "HEAD", "main", "--tags", cwd=work)
        shutil.copyfile(created, bundle_path)
