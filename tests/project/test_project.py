"""Experiment projects: render, test and lint the project, run its Metaflow flow, update it.

Everything runs locally: the template bundle is a file, Metaflow runs in local mode (datastore
under the project's ``.metaflow``), and the project's tests and lint run with this environment's
pytest and ruff, which are the versions the template pins (checked below).
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import ablens
from ablens.analysis_plan import load_plan
from ablens.cli.app import app
from ablens.demo import run as make_demo_data
from ablens.errors import InputError, ProjectError
from ablens.project import (
    BUNDLE,
    DATA_SOURCES,
    METRIC_CHOICES,
    TEMPLATE_DIR,
    TEMPLATE_VERSION,
    new_project,
    release_template,
    template_versions,
    update_project,
)
from ablens.readout import run_readout

runner = CliRunner()
NAME = "checkout-redesign"
FLOW_CLASS = "CheckoutRedesignFlow"
DEMO_USERS = 20_000


@pytest.fixture(autouse=True)
def ablens_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test installs the template bundle into its own store, never the user's."""
    home = tmp_path / "ablens-home"
    monkeypatch.setenv("ABLENS_HOME", str(home))
    # Commits in rendered projects must not depend on the machine's git identity.
    for key, value in {
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }.items():
        monkeypatch.setenv(key, value)
    return home


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - git with arguments built here
        ["git", *args],  # noqa: S607 - git from PATH, as the project commands use it
        cwd=folder,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


#: Where Metaflow looks for who runs a flow (``metaflow.util.get_username``).
USER_VARIABLES = ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER")


def _run(
    folder: Path, *command: str, check: bool = True, user: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in ``folder`` with this ablens; ``user=False`` unsets every user variable."""
    # An absolute path: the command runs in the project, where a relative PYTHONPATH means nothing.
    source = str(Path(ablens.__file__).resolve().parents[1])
    environment = os.environ | {"USERNAME": "ci", "PYTHONWARNINGS": "", "PYTHONPATH": source}
    if not user:
        for name in USER_VARIABLES:
            environment.pop(name, None)
    completed = subprocess.run(  # noqa: S603 - this interpreter and fixed arguments
        command, cwd=folder, capture_output=True, text=True, env=environment, check=False
    )
    if check and completed.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.parts and "__pycache__" not in path.parts
    }


# ------------------------------------------------------------------------- the template
def test_bundle_holds_every_release_and_its_newest_is_the_template_folder(tmp_path: Path):
    assert template_versions() == ["1.0.0", "1.1.0", "1.2.0"]
    assert template_versions()[-1] == TEMPLATE_VERSION
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "--quiet", "--branch", TEMPLATE_VERSION, str(BUNDLE), str(clone))
    # A change to template/ without `release_template` would leave old projects behind.
    assert _files(clone) == _files(TEMPLATE_DIR)


def test_template_pins_match_this_release_and_the_tested_tools():
    questions = yaml.safe_load((TEMPLATE_DIR / "copier.yml").read_text(encoding="utf-8"))
    assert questions["ablens_version"]["default"] == ablens.__version__
    pyproject = (TEMPLATE_DIR / "pyproject.toml.jinja").read_text(encoding="utf-8")
    # The project's own tests and lint run here with these very versions.
    for package in ("ruff", "pytest", "metaflow", "metaflow-card-html"):
        assert f'"{package}=={metadata.version(package)}"' in pyproject


# ------------------------------------------------------------------------------- new
def test_new_project_renders_a_committed_project_with_a_valid_plan(tmp_path: Path):
    folder = new_project(tmp_path / NAME, team="payments", experiment_id="exp-1234")
    assert folder == tmp_path / NAME
    assert sorted(_files(folder)) == [
        ".copier-answers.yml",
        ".github/workflows/ci.yml",
        ".gitignore",
        "Dockerfile",
        "README.md",
        "flow.py",
        "plan.yaml",
        "pyproject.toml",
        "tests/test_plan.py",
    ]
    answers = yaml.safe_load((folder / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_commit"] == TEMPLATE_VERSION
    assert answers["team"] == "payments"
    assert answers["metrics"] == ["conversion", "revenue_cuped", "sessions"]
    assert _git(folder, "status", "--porcelain") == ""
    assert _git(folder, "log", "--format=%s").splitlines() == [
        f"Create {NAME} from the ablens project template {TEMPLATE_VERSION}"
    ]
    plan = load_plan(folder / "plan.yaml")
    assert (plan.experiment_id, plan.team, plan.control) == ("exp-1234", "payments", "control")
    assert [m.name for m in plan.metrics] == [
        "conversion",
        "revenue per user (CUPED)",
        "sessions per user",
    ]
    assert [m.role for m in plan.metrics] == ["primary", "secondary", "guardrail"]
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == NAME
    assert f"ablens[duckdb,cli,project]=={ablens.__version__}" in project["project"]["dependencies"]
    assert "class CheckoutRedesignFlow(FlowSpec)" in (folder / "flow.py").read_text("utf-8")
    workflow = yaml.safe_load((folder / ".github/workflows/ci.yml").read_text("utf-8"))
    assert [step.get("run") for step in workflow["jobs"]["check"]["steps"][2:]] == [
        "uv sync",
        "uv run ruff check .",
        "uv run ruff format --check .",
        "uv run ablens validate plan.yaml",
        "uv run pytest",
    ]
    dockerfile = (folder / "Dockerfile").read_text("utf-8")
    assert "FROM python:3.11-slim" in dockerfile
    assert 'CMD ["python", "flow.py", "run"]' in dockerfile


@pytest.mark.parametrize("source", DATA_SOURCES)
def test_every_data_source_and_metric_gives_a_valid_plan(tmp_path: Path, source: str):
    folder = new_project(tmp_path / NAME, data_source=source, metrics=METRIC_CHOICES)
    plan = load_plan(folder / "plan.yaml")
    kinds = {
        "demo": "duckdb",
        "file": "path",
        "duckdb": "duckdb",
        "postgres": "warehouse",
        "spark": "spark",
    }
    assert list(plan.source.to_dict()) == [kinds[source]]
    assert [m.to_dict()["kind"] for m in plan.metrics] == [
        "proportion",
        "mean",
        "ratio",
        "mean",
        "quantile",
    ]
    extra = {"postgres": "postgres", "spark": "spark"}.get(source, "duckdb")
    dependencies = tomllib.loads((folder / "pyproject.toml").read_text("utf-8"))["project"]
    assert f"ablens[{extra},cli,project]=={ablens.__version__}" in dependencies["dependencies"]


def test_project_passes_its_own_tests_and_lint(tmp_path: Path):
    folder = new_project(tmp_path / NAME, metrics=METRIC_CHOICES)
    _run(folder, sys.executable, "-m", "ruff", "check", ".")
    _run(folder, sys.executable, "-m", "ruff", "format", "--check", ".")
    tests = _run(folder, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert "2 passed" in tests.stdout


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"path": "Checkout_Redesign"}, InputError, "project name == 'Checkout_Redesign'"),
        ({"data_source": "oracle"}, InputError, "data_source == 'oracle', must be one of"),
        ({"metrics": ["ctr"]}, InputError, "metrics == ['ctr'], must be one or more of"),
        ({"metrics": []}, InputError, "metrics == [], must be one or more of"),
        ({"team": "  "}, InputError, "team == '', must name the team"),
    ],
)
def test_new_project_rejects_bad_arguments(tmp_path, arguments, error, message):
    path = tmp_path / arguments.pop("path", NAME)
    with pytest.raises(error) as caught:
        new_project(path, **arguments)
    assert message in str(caught.value)
    assert not path.exists()


def test_new_project_refuses_a_folder_that_is_not_empty(tmp_path: Path):
    (tmp_path / NAME).mkdir()
    (tmp_path / NAME / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ProjectError, match="already exists and is not empty"):
        new_project(tmp_path / NAME)
    assert (tmp_path / NAME / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_cli_new_and_its_errors(tmp_path: Path):
    target = tmp_path / NAME
    outcome = runner.invoke(
        app,
        [
            *("new", str(target), "--no-ask", "--team", "search", "--source", "file"),
            *("--metric", "conversion", "--metric", "orders_per_session"),
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    assert f"Created {target} (a git repository with one commit)." in outcome.stdout
    assert "uv run python flow.py run" in outcome.stdout
    plan = load_plan(target / "plan.yaml")
    assert plan.team == "search"
    assert [m.name for m in plan.metrics] == ["conversion", "orders per session"]
    again = runner.invoke(app, ["new", str(target), "--no-ask"])
    assert again.exit_code == 2
    assert "already exists and is not empty" in again.output


def _answer_in_a_terminal(command: list[str], answers: list[tuple[str, str]]) -> str:
    """Run ``command`` on a pseudo-terminal, typing each answer after its prompt appears."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command, with the terminal as its stdin and stdout
        os.execv(command[0], command)  # noqa: S606 - this environment's own console script
    seen = b""

    def read_until(text: str, *, settle: float = 0.0) -> None:
        """Read until ``text`` appears, then until the terminal is quiet for ``settle`` s.

        On a loaded machine the prompt is drawn before its input loop is ready; keys typed in
        that gap may be lost, so an answer waits for the screen to settle. The deadline is
        generous for the same reason (interpreter start-up under load).
        """
        nonlocal seen
        deadline = time.monotonic() + 180
        quiet_since = time.monotonic()
        while text.encode() not in seen or time.monotonic() - quiet_since < settle:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"no {text!r} prompt in:\n{seen.decode(errors='replace')}")
            if select.select([terminal], [], [], 0.05)[0]:
                try:
                    seen += os.read(terminal, 4096)
                except OSError:  # the child closed the terminal
                    break
                quiet_since = time.monotonic()

    for prompt, answer in answers:
        read_until(prompt, settle=0.3)
        os.write(terminal, answer.encode())
    read_until("Created")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, seen.decode(errors="replace")
    return seen.decode(errors="replace")


def test_cli_new_asks_the_templates_questions_in_a_terminal(tmp_path: Path):
    ablens_command = str(Path(sys.executable).with_name("ablens"))
    clear_line = "\x15"  # Ctrl-U: drop the pre-filled default before typing
    output = _answer_in_a_terminal(
        [ablens_command, "new", str(tmp_path / "pricing-test")],  # stdin is a terminal: asks
        [
            ("Team that owns the experiment", clear_line + "pricing\r"),
            ("Experiment id", clear_line + "exp-77\r"),
            ("Where the experiment's per-unit table lives", "\r"),  # the default: demo
            ("Metrics to start from", "\r"),  # the default selection
            ("When the scheduled analysis runs", "\r"),
        ],
    )
    assert "Created" in output
    answers = yaml.safe_load((tmp_path / "pricing-test/.copier-answers.yml").read_text("utf-8"))
    assert (answers["team"], answers["experiment_id"], answers["data_source"]) == (
        "pricing",
        "exp-77",
        "demo",
    )
    assert answers["metrics"] == ["conversion", "revenue_cuped", "sessions"]
    assert load_plan(tmp_path / "pricing-test/plan.yaml").experiment_id == "exp-77"


# ------------------------------------------------------------------------------ flow
_ARTIFACTS = """
import json, sys
from metaflow import Flow, namespace
namespace(None)
run = Flow(sys.argv[1]).latest_run
task = run["analyze"].task
print(json.dumps({
    "successful": run.successful,
    "verdict": task["verdict"].data,
    "readout": task["readout"].data,
    "report_html": task["report_html"].data,
    "plan_sha256": run["start"].task["plan_sha256"].data,
    "tags": sorted(run.system_tags),
}))
"""


def _artifacts(folder: Path) -> dict[str, object]:
    script = folder / "read_artifacts.py"
    script.write_text(_ARTIFACTS, encoding="utf-8")
    return json.loads(_run(folder, sys.executable, str(script), FLOW_CLASS).stdout)


def test_flow_runs_locally_end_to_end_on_the_demo_data(tmp_path: Path):
    folder = new_project(tmp_path / NAME, team="payments")
    make_demo_data(folder / "ablens_demo.duckdb", users=DEMO_USERS)
    # As in a container or a CI job: no $USER, $USERNAME, $SUDO_USER or $METAFLOW_USER. The
    # flow then runs as its team (Metaflow alone would stop with "Unknown user").
    _run(folder, sys.executable, "flow.py", "--quiet", "run", user=False)
    _run(folder, sys.executable, "flow.py", "card", "get", "analyze", "card.html", user=False)
    artifacts = _artifacts(folder)
    assert "user:payments" in artifacts["tags"]
    plan = load_plan(folder / "plan.yaml")
    readout = run_readout(plan)
    expected, decision = readout.result, readout.verdict
    assert artifacts["successful"] is True
    assert artifacts["plan_sha256"] == plan.sha256
    assert artifacts["verdict"]["label"] == decision.label
    assert artifacts["verdict"]["healthy"] is True
    result = artifacts["readout"]
    assert result["verdict"] == artifacts["verdict"]
    assert result["counts"] == dict(zip(expected.arms, expected.counts, strict=True))
    assert sum(result["counts"].values()) == DEMO_USERS
    for got, want in zip(result["comparisons"], expected.comparisons, strict=True):
        assert got["metric"] == want.metric
        assert got["p_value"] == pytest.approx(want.p_value, rel=1e-12)
        assert got["effect"] == pytest.approx(want.result.effect, rel=1e-12)
    card = (folder / "card.html").read_text(encoding="utf-8")
    assert card == artifacts["report_html"]
    assert decision.label in card
    assert plan.sha256 in card


def test_flow_fails_on_a_health_gate_but_keeps_the_report(tmp_path: Path):
    folder = new_project(tmp_path / NAME)
    make_demo_data(folder / "ablens_demo.duckdb", users=DEMO_USERS)
    plan_file = folder / "plan.yaml"
    # The data are split 50/50; a plan expecting 70/30 sees a sample-ratio mismatch.
    text = plan_file.read_text(encoding="utf-8")
    text = text.replace("  control: 50\n  new_checkout: 50", "  control: 70\n  new_checkout: 30")
    plan_file.write_text(text, encoding="utf-8")
    failed = _run(folder, sys.executable, "flow.py", "--quiet", "run", check=False)
    assert failed.returncode != 0
    log = failed.stdout + failed.stderr
    assert "HealthGateFailedError" in log
    assert "health gate failed: The arms got" in log
    assert "sample-ratio mismatch" in log
    artifacts = _artifacts(folder)
    assert artifacts["successful"] is False
    assert artifacts["verdict"]["label"] == "Don't trust — fix the data"
    assert "sample-ratio mismatch" in artifacts["report_html"]


def test_flow_waits_for_the_planned_sample_and_fails_only_when_asked(tmp_path: Path):
    folder = new_project(tmp_path / NAME)
    make_demo_data(folder / "ablens_demo.duckdb", users=DEMO_USERS)
    plan_file = folder / "plan.yaml"
    text = plan_file.read_text(encoding="utf-8").replace("sample_size: 20000", "sample_size: 50000")
    plan_file.write_text(text, encoding="utf-8")
    waiting = _run(folder, sys.executable, "flow.py", "--quiet", "run")
    assert "Inconclusive — keep running: Only 20,000 of the planned 50,000 units (40%)" in (
        waiting.stdout + waiting.stderr
    )
    assert _artifacts(folder)["verdict"]["complete"] is False
    strict = _run(
        folder,
        *(sys.executable, "flow.py", "--quiet", "run", "--fail-on-incomplete", "True"),
        check=False,
    )
    assert strict.returncode != 0
    assert "health gate failed: Only 20,000 of the planned 50,000 units" in strict.stdout


# ---------------------------------------------------------------------------- update
def _release_changed_template(tmp_path: Path, home: Path) -> None:
    """Template 1.3.0: one more lint rule (flake8-simplify) and one more file."""
    changed = tmp_path / "template-1.3.0"
    shutil.copytree(TEMPLATE_DIR, changed, ignore=shutil.ignore_patterns("__pycache__"))
    pyproject = changed / "pyproject.toml.jinja"
    text = pyproject.read_text(encoding="utf-8")
    rules = 'select = ["E", "F", "W", "I", "B", "UP", "RUF"]'
    assert rules in text
    pyproject.write_text(text.replace(rules, rules[:-1] + ', "SIM"]'), encoding="utf-8")
    (changed / "RUNBOOK.md.jinja").write_text(
        "# Runbook: {{ experiment_id }}\n\nWho to call when the flow fails: {{ team }}.\n",
        encoding="utf-8",
    )
    release_template("1.3.0", template_dir=changed, bundle=home / "project-template.bundle")


def test_update_keeps_the_teams_edits_and_brings_the_templates_changes(
    tmp_path: Path, ablens_home: Path
):
    folder = new_project(tmp_path / NAME, team="growth")
    plan_file = folder / "plan.yaml"
    plan_text = plan_file.read_text(encoding="utf-8")
    ours = "description: One-page checkout against the three-step checkout."
    plan_text = plan_text.replace(
        "description: What changes for the treatment arm, and why we expect it to help.", ours
    )
    plan_file.write_text(plan_text, encoding="utf-8")
    (folder / "notes.md").write_text("# Decisions\n", encoding="utf-8")
    _git(folder, "add", "--all")
    _git(folder, "commit", "--quiet", "--message", "Our description and notes")
    _release_changed_template(tmp_path, ablens_home)

    outcome = update_project(folder)

    assert (outcome.old_version, outcome.new_version) == (TEMPLATE_VERSION, "1.3.0")
    assert outcome.conflicts == ()
    assert outcome.changed == (".copier-answers.yml", "RUNBOOK.md", "pyproject.toml")
    assert ours in plan_file.read_text(encoding="utf-8")
    assert (folder / "notes.md").read_text(encoding="utf-8") == "# Decisions\n"
    assert (folder / "RUNBOOK.md").read_text(encoding="utf-8") == (
        f"# Runbook: {NAME}\n\nWho to call when the flow fails: growth.\n"
    )
    lint = tomllib.loads((folder / "pyproject.toml").read_text("utf-8"))["tool"]["ruff"]["lint"]
    assert lint["select"][-1] == "SIM"
    assert yaml.safe_load((folder / ".copier-answers.yml").read_text("utf-8"))["_commit"] == (
        "1.3.0"
    )
    # The updated project still passes its lint, now with the new rule, and its tests.
    _run(folder, sys.executable, "-m", "ruff", "check", ".")
    _run(folder, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert "1.3.0" in str(outcome)
    _git(folder, "add", "--all")
    _git(folder, "commit", "--quiet", "--message", "Template 1.3.0")
    again = update_project(folder)
    assert (again.new_version, again.changed) == ("1.3.0", ())
    assert str(again) == f"{folder}: already at template 1.3.0; nothing to update."


def test_update_reports_conflicts_plainly_with_exit_code_1(tmp_path: Path, ablens_home: Path):
    folder = new_project(tmp_path / NAME)
    pyproject = folder / "pyproject.toml"
    # The team's own lint rule, on the very line the new template version changes.
    pyproject.write_text(
        pyproject.read_text("utf-8").replace('"UP", "RUF"]', '"UP", "RUF", "PT"]'), "utf-8"
    )
    _git(folder, "commit", "--quiet", "--all", "--message", "Our lint rule")
    _release_changed_template(tmp_path, ablens_home)

    outcome = runner.invoke(app, ["update", str(folder)])

    assert outcome.exit_code == 1, outcome.output
    assert "1 conflict: the template changed lines you edited too" in outcome.stdout
    assert "  conflict: pyproject.toml" in outcome.stdout
    text = pyproject.read_text("utf-8")
    assert '"UP", "RUF", "PT"]' in text
    assert '"UP", "RUF", "SIM"]' in text
    assert "<<<<<<< before updating" in text
    assert (folder / "RUNBOOK.md").is_file()


def test_update_refuses_uncommitted_changes_and_folders_that_are_not_projects(tmp_path):
    folder = new_project(tmp_path / NAME)
    (folder / "plan.yaml").write_text("experiment_id: x\n", encoding="utf-8")
    with pytest.raises(ProjectError, match="has uncommitted changes; commit or stash them"):
        update_project(folder)
    outcome = runner.invoke(app, ["update", str(tmp_path)])
    assert outcome.exit_code == 2
    assert "is not an ablens project: it has no .copier-answers.yml" in outcome.output


def test_a_teammates_clone_updates_from_their_own_store(tmp_path, monkeypatch):
    """Projects record the store as ``~/...``: another machine installs its own copy."""
    monkeypatch.delenv("ABLENS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    folder = new_project(tmp_path / NAME)
    answers = yaml.safe_load((folder / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_src_path"] == "~/.local/share/ablens/project-template.bundle"
    assert (tmp_path / "me/.local/share/ablens/project-template.bundle").is_file()
    clone = tmp_path / "teammate" / NAME
    _git(tmp_path, "clone", "--quiet", str(folder), str(clone))
    monkeypatch.setenv("HOME", str(tmp_path / "teammate-home"))
    outcome = update_project(clone)
    assert (outcome.old_version, outcome.new_version, outcome.changed) == (
        (TEMPLATE_VERSION,) * 2 + ((),)
    )
    assert (tmp_path / "teammate-home/.local/share/ablens/project-template.bundle").is_file()


def test_release_template_refuses_versions_that_are_not_newer(tmp_path: Path):
    bundle = tmp_path / "template.bundle"
    shutil.copyfile(BUNDLE, bundle)
    with pytest.raises(InputError, match=r"version == '1.2.0', must be newer than 1.2.0"):
        release_template("1.2.0", bundle=bundle)
    with pytest.raises(InputError, match=r"version == 'v2', must look like 1.2.0"):
        release_template("v2", bundle=bundle)
    release_template("1.2.1", bundle=bundle)
    assert template_versions(bundle) == ["1.0.0", "1.1.0", "1.2.0", "1.2.1"]


# ------------------------------------------------------------------ uv, as the README says
def _uv() -> str:
    """The uv of this environment (requirements/dev.txt pins it), or the one on PATH."""
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is missing: install requirements/dev.txt (it pins uv, as the template)")
    return found


@pytest.mark.slow
def test_uv_run_ablens_update_works_with_ablens_from_a_wheel(tmp_path: Path, ablens_home: Path):
    """The README's path, offline: ablens from a wheel in wheels/, then `uv run ablens update`.

    Tests reach no network, so the project's environment is not resolved from the index (`uv
    sync`): it is a venv that sees this environment's packages (through a .pth file) with
    ablens installed from the wheel built here, and `uv run --no-sync` runs the README's
    command in it. That the project's dependencies name what `update` needs (copier, through
    the `project` extra) is checked on the rendered pyproject.toml.
    """
    uv = _uv()
    pinned = (TEMPLATE_DIR / "pyproject.toml.jinja").read_text(encoding="utf-8")
    version = subprocess.run(  # noqa: S603 - uv with fixed arguments
        [uv, "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    assert f'"uv=={version}"' in pinned
    checkout = Path(ablens.__file__).resolve().parents[2]
    assert (checkout / "pyproject.toml").is_file(), "needs ablens as a source checkout"
    folder = new_project(tmp_path / NAME)
    pyproject = folder / "pyproject.toml"
    dependencies = tomllib.loads(pyproject.read_text("utf-8"))["project"]["dependencies"]
    [requirement] = [d for d in dependencies if d.startswith("ablens[")]
    assert "project" in requirement.split("[")[1].split("]")[0].split(",")
    extras = tomllib.loads((checkout / "pyproject.toml").read_text("utf-8"))["project"]
    assert any(d.startswith("copier") for d in extras["optional-dependencies"]["project"])
    commented = '# find-links = ["wheels"]'
    assert commented in pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8").replace(commented, commented[2:]), encoding="utf-8"
    )
    # The project's own environment: no PYTHONPATH or outer venv leaking this checkout in.
    environment = {
        key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}
    } | {"UV_OFFLINE": "1", "UV_NO_SYNC": "1"}

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(  # noqa: S603 - fixed commands built here
            list(command),
            cwd=folder,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
            timeout=540,
        )
        assert completed.returncode == 0, f"{command}:\n{completed.stdout}{completed.stderr}"
        return completed

    # The wheel, as the README builds it (pip's builder: hatchling is installed, no index).
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-build-isolation",
        "--wheel-dir",
        str(folder / "wheels"),
        str(checkout),
    )
    [wheel] = (folder / "wheels").glob("ablens-*.whl")
    run(sys.executable, "-m", "venv", str(folder / ".venv"))
    project_python = folder / ".venv" / "bin" / "python"
    site = run(str(project_python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    outer = sysconfig.get_path("purelib")
    (Path(site.stdout.strip()) / "outer-environment.pth").write_text(outer + "\n", "utf-8")
    run(uv, "pip", "install", "--python", str(project_python), "--no-deps", str(wheel))
    installed = run(uv, "run", "python", "-c", "import ablens; print(ablens.__file__)")
    assert Path(installed.stdout.strip()).is_relative_to(folder / ".venv")
    _git(folder, "add", "--all")  # the wheel, as the README says
    _git(folder, "commit", "--quiet", "--message", "ablens from a wheel")
    _release_changed_template(tmp_path, ablens_home)

    updated = run(uv, "run", "ablens", "update")

    assert f"template {TEMPLATE_VERSION} -> 1.3.0" in updated.stdout
    assert (folder / "RUNBOOK.md").is_file()
    # The team's switch to the wheel survives the update.
    assert 'find-links = ["wheels"]' in pyproject.read_text(encoding="utf-8").splitlines()


def test_a_project_made_with_template_1_1_0_updates_to_this_release(tmp_path: Path):
    """The released upgrade: 1.1.0 projects get the `project` extra and the flow's user."""
    import copier  # noqa: PLC0415 - the project extra

    bundle = tmp_path / "template.bundle"
    shutil.copyfile(BUNDLE, bundle)
    folder = tmp_path / NAME
    copier.run_copy(
        str(bundle), folder, data={"project_name": NAME}, vcs_ref="1.1.0", defaults=True, quiet=True
    )
    _git(folder, "init", "--quiet", "--initial-branch=main")
    _git(folder, "add", "--all")
    _git(folder, "commit", "--quiet", "--message", "Made with 1.1.0")
    assert ",cli]==" in (folder / "pyproject.toml").read_text(encoding="utf-8")

    outcome = update_project(folder)

    assert (outcome.old_version, outcome.new_version) == ("1.1.0", TEMPLATE_VERSION)
    assert outcome.conflicts == ()
    assert {"pyproject.toml", "flow.py", "README.md"} <= set(outcome.changed)
    dependencies = tomllib.loads((folder / "pyproject.toml").read_text("utf-8"))["project"]
    assert f"ablens[duckdb,cli,project]=={ablens.__version__}" in dependencies["dependencies"]
    assert "if get_username() is None:" in (folder / "flow.py").read_text(encoding="utf-8")
