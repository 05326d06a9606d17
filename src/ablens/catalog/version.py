"""A catalog's version: its git commit when the folder is a clean checkout, else a content hash.

Git is asked read-only (``GIT_OPTIONAL_LOCKS=0``: ``git status`` does not even refresh the
index), with no prompt and no network; any failure (no git, not a repository, a repository of
another owner) falls back to the content hash.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["catalog_version", "content_hash", "git_commit"]

#: Seconds a git command may take before the content hash is used instead.
_GIT_TIMEOUT = 10.0


def content_hash(root: Path, files: Sequence[str]) -> str:
    r"""SHA-256 over the files' sorted relative names and bytes (length-prefixed, unambiguous).

    Examples:
        >>> import pathlib, tempfile
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "m.yaml").write_text("metrics: {}\\n")
        >>> content_hash(folder, ["m.yaml"]) == content_hash(folder, ["m.yaml"])
        True
    """
    digest = hashlib.sha256()
    for name in sorted(files):
        data = (root / name).read_bytes()
        encoded = name.replace(os.sep, "/").encode()
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def _git(folder: Path, *args: str) -> str | None:
    environment = {
        **os.environ,
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
    }
    try:
        done = subprocess.run(  # noqa: S603 - fixed arguments, no shell
            ["git", "-C", str(folder), *args],  # noqa: S607 - git from PATH, as a user runs it
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            env=environment,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_commit(folder: Path, files: Sequence[str]) -> str | None:
    """The last commit that touched ``folder``, when every file in ``files`` is committed as is.

    None when git is missing, ``folder`` is not in a work tree, a file is untracked, ignored,
    modified or staged, or nothing in the folder was ever committed.
    """
    inside = _git(folder, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.strip() != "true":
        return None
    status = _git(folder, "status", "--porcelain", "--untracked-files=all", "--ignored", "--", ".")
    if status is None or status.strip():
        return None
    tracked = _git(folder, "ls-files", "--full-name", "--", ".")
    prefix = _git(folder, "rev-parse", "--show-prefix")
    if tracked is None or prefix is None:
        return None
    known = set(tracked.splitlines())
    wanted = {prefix.strip() + name.replace(os.sep, "/") for name in files}
    if not wanted <= known:
        return None
    commit = _git(folder, "log", "-1", "--format=%H", "--", ".")
    if commit is None or not commit.strip():
        return None
    return commit.strip()


def catalog_version(root: Path, files: Sequence[str], digest: str) -> str:
    """``git:<commit>`` for a clean checkout of ``root`` (a folder), else ``sha256:<digest>``."""
    if root.is_dir():
        commit = git_commit(root, files)
        if commit is not None:
            return f"git:{commit}"
    return f"sha256:{digest}"
