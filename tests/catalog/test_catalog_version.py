"""A catalog's version (git commit of a clean checkout, else content hash) and what changed."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from catalog_helpers import copy_example

from ablens.catalog import CatalogChange, Location, load_catalog
from ablens.catalog.version import content_hash

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def _git(folder, *args):
    environment = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(  # noqa: S603 - fixed arguments
        [GIT, "-C", str(folder), *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# ----------------------------------------------------------------------------- content hash
def test_the_content_hash_is_stable_across_loads_and_copies(tmp_path):
    first = load_catalog(copy_example(tmp_path / "a"))
    second = load_catalog(copy_example(tmp_path / "b"))
    assert first.version == second.version == f"sha256:{first.content_hash}"
    assert len(first.content_hash) == 64
    assert load_catalog(first.path).version == first.version


def test_the_content_hash_changes_with_a_definition_or_a_file_name(tmp_path):
    folder = copy_example(tmp_path)
    before = load_catalog(folder).version
    _edit(folder / "metrics" / "commerce.yaml", "window: [0, 7]", "window: [0, 8]")
    after = load_catalog(folder).version
    assert after != before
    _edit(folder / "metrics" / "commerce.yaml", "window: [0, 8]", "window: [0, 7]")
    assert load_catalog(folder).version == before
    (folder / "metrics" / "commerce.yaml").rename(folder / "metrics" / "shop.yaml")
    assert load_catalog(folder).version != before


def test_the_hash_covers_names_and_bytes_unambiguously(tmp_path):
    (tmp_path / "ab").write_bytes(b"c")
    (tmp_path / "a").write_bytes(b"bc")
    assert content_hash(tmp_path, ["ab"]) != content_hash(tmp_path, ["a"])
    assert content_hash(tmp_path, ["a", "ab"]) == content_hash(tmp_path, ["ab", "a"])


# ----------------------------------------------------------------------------- git
@needs_git
def test_a_clean_git_checkout_is_versioned_by_its_commit(tmp_path):
    repo = tmp_path / "council"
    folder = copy_example(repo)
    (repo / "README.md").write_text("the metrics council\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "catalog")
    commit = _git(repo, "rev-parse", "HEAD")
    catalog = load_catalog(folder)
    assert catalog.version == f"git:{commit}"
    # Unrelated files of the repository do not change the catalog's version.
    (repo / "README.md").write_text("changed\n")
    _git(repo, "commit", "-q", "-am", "readme")
    assert load_catalog(folder).version == f"git:{commit}"
    # git was asked read-only: nothing staged, no index lock left behind
    assert not (repo / ".git" / "index.lock").exists()


@needs_git
def test_a_dirty_or_untracked_catalog_falls_back_to_the_content_hash(tmp_path):
    repo = tmp_path / "council"
    folder = copy_example(repo)
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "catalog")
    _edit(folder / "sources.yaml", "analytics.orders", "analytics.orders_v2")
    dirty = load_catalog(folder)
    assert dirty.version == f"sha256:{dirty.content_hash}"
    _git(repo, "checkout", "-q", "--", ".")
    assert load_catalog(folder).version.startswith("git:")
    (folder / "metrics" / "new.yaml").write_text("metrics: {}\n")
    assert load_catalog(folder).version.startswith("sha256:")
    (repo / ".gitignore").write_text("new.yaml\n")
    _git(repo, "add", ".gitignore")
    _git(repo, "commit", "-q", "-m", "ignore")
    # an ignored file is still read, so the commit does not describe the catalog
    assert load_catalog(folder).version.startswith("sha256:")


# ----------------------------------------------------------------------------- changes
def test_changed_since_lists_the_definitions_that_differ(tmp_path):
    folder = copy_example(tmp_path)
    before = load_catalog(folder)
    assert before.changed_since(before) == ()
    assert before.changed_since(before.definition_hashes()) == ()
    _edit(
        folder / "metrics" / "engagement.yaml",
        "window: [0, 14]\n    no_events: missing",
        "window: [0, 7]\n    no_events: missing",
    )
    _edit(folder / "metrics" / "engagement.yaml", "  refund_rate_28d:", "  refund_rate:")
    after = load_catalog(folder)
    changes = after.changed_since(before)
    engagement = str(folder / "metrics" / "engagement.yaml")
    assert changes == (
        CatalogChange(
            "metric", "session_length_14d", "changed", defined_at=Location(engagement, 11)
        ),
        CatalogChange("metric", "refund_rate", "added", defined_at=Location(engagement, 20)),
        CatalogChange("metric", "refund_rate_28d", "removed"),
    )
    assert str(changes[0]) == f"metric session_length_14d changed ({engagement}:11)"


def test_a_changed_source_marks_the_metrics_that_read_it(tmp_path):
    folder = copy_example(tmp_path)
    before = load_catalog(folder)
    _edit(folder / "sources.yaml", "value: false", "value: true")
    changes = load_catalog(folder).changed_since(before.definition_hashes())
    assert [str(c).split(" (")[0] for c in changes] == [
        "source orders changed",
        "metric revenue_7d changed: source orders changed",
        "metric orders_7d changed: source orders changed",
        "metric buyers_7d changed: source orders changed",
        "metric average_order_value_7d changed: metric revenue_7d and metric orders_7d changed",
        "metric largest_order_7d changed: source orders changed",
        "metric refund_rate_28d changed: source orders changed",
    ]


def test_moving_a_definition_to_another_file_is_no_change(tmp_path):
    folder = copy_example(tmp_path)
    before = load_catalog(folder)
    commerce = folder / "metrics" / "commerce.yaml"
    (folder / "metrics" / "more.yaml").write_text("\n\n" + commerce.read_text())
    commerce.unlink()
    after = load_catalog(folder)
    assert after.metric("revenue_7d").defined_at.line == 4
    assert after.changed_since(before) == ()
    assert after.version != before.version
