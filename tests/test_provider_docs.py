"""The provider author's guide and its examples stay true: the tests it names exist as it
says, the skeleton provider passes the shape check, and the GitHub Actions workflow is a
valid workflow whose every command the current provkit accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from provkit._provider_spec import SHORTCUTS
from provkit.cli import build_parser
from provkit.conformance._layout import SUITE_DIR
from provkit.stress import PRESETS
from provkit.stress.cli import _run_parser

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "provider-guide.md"
WORKFLOW = ROOT / "examples" / "github-actions" / "provkit.yml"


def test_tests_the_guide_names_exist_and_foundation_ones_are_marked() -> None:
    """Every ``test_...`` the guide names exists in the suite; those of its implementation
    table are foundation tests of an operation of their step."""
    guide = GUIDE.read_text()
    sources = {path.name: path.read_text() for path in SUITE_DIR.glob("test_*.py")}
    suite = "\n".join(sources.values())
    for module, name in re.findall(r"(test_\w+\.py)::(test_\w+)", guide):
        assert f"def {name}(" in sources[module], f"{module}::{name}"
    table = [line for line in guide.splitlines() if re.match(r"\| \d \|", line)]
    assert len(table) == 9
    for row in table:
        _, step, operations, _, tests, _ = row.split("|")
        for name in re.findall(r"`(test_\w+)`", tests):
            marker = re.search(
                rf'@pytest\.mark\.foundation\("(\w+)"\)\n(?:.*\n)?async def {name}\(', suite
            )
            assert marker is not None, f"step {step.strip()}: {name} is not a foundation test"
            assert f"`{marker.group(1)}`" in operations, f"{name} is not of step {step.strip()}"


def test_skeleton_provider_passes_the_shape_check_and_fails_at_the_first_step(
    pytester: pytest.Pytester,
) -> None:
    """The skeleton runs the suite: its first failure is step 1, raising NotImplementedError."""
    pytester.syspathinsert(ROOT / "examples")
    result = pytester.runpytest_inprocess(
        "--provider=skeleton_provider:SkeletonFactory",
        "-m",
        "foundation",
        "-x",
        "-p",
        "no:cacheprovider",
        str(SUITE_DIR / "test_queue_semantics.py"),
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "provkit provider: skeleton_provider:SkeletonFactory (skeleton); capabilities: none",
            "fix these first: test_queue_semantics.py::"
            "test_message_for_an_unknown_instance_is_fetched_without_a_record "
            "(fetch_orchestration_item)",
            "  fetch_orchestration_item: NotImplementedError: enqueue_for_orchestrator",
        ]
    )


def test_the_guides_complete_example_is_run_by_ci_through_the_whole_suite() -> None:
    """The provider the guide presents as its complete example is the one ``.ci/run`` runs
    the whole suite against (requiring PASS), and is as short as the guide says."""
    section = GUIDE.read_text().split("\n## 3. ")[1].split("\n## ")[0]
    path, shortcut = re.findall(r"`(src/provkit/\S+\.py)` \(shortcut `([\w-]+)`\)", section)[0]
    module = SHORTCUTS[shortcut].split(":")[0]
    assert (ROOT / path) == ROOT / "src" / Path(*module.split(".")).with_suffix(".py")
    assert f"suite .venv {shortcut}\n" in (ROOT / ".ci" / "run").read_text()
    (limit,) = re.findall(r"under (\d+) lines", section)
    assert len((ROOT / path).read_text().splitlines()) < int(limit)


def load_workflow() -> dict[Any, Any]:
    document = yaml.safe_load(WORKFLOW.read_text())
    assert isinstance(document, dict)
    return document


def test_workflow_is_a_well_formed_github_actions_workflow() -> None:
    """Triggers, jobs with a runner and steps, each step one action (pinned to a major
    version) or one command, ``needs`` naming jobs, and expressions only using the matrix."""
    workflow = load_workflow()
    # YAML 1.1 reads the key ``on`` as true; GitHub reads it as "on".
    assert set(workflow[True]) == {"push", "pull_request"}
    jobs = workflow["jobs"]
    assert set(jobs) == {"conformance", "stress", "publish"}
    for name, job in jobs.items():
        assert job["runs-on"] == "ubuntu-latest", name
        assert set(job.get("needs", "conformance").split()) <= set(jobs), name
        matrix = job.get("strategy", {}).get("matrix", {})
        for step in job["steps"]:
            assert len({"uses", "run"} & set(step)) == 1, step
            if "uses" in step:
                assert re.fullmatch(r"actions/[\w-]+@v\d+", step["uses"]), step
            for expression in re.findall(r"\$\{\{\s*([^}]*?)\s*\}\}", yaml.safe_dump(step)):
                scope, _, key = expression.partition(".")
                assert (scope, key in matrix) == ("matrix", True), expression
    publish = [step.get("run", "") for step in jobs["publish"]["steps"]]
    assert any('>> "$GITHUB_STEP_SUMMARY"' in run for run in publish)


def commands() -> list[list[str]]:
    """Every command line of the workflow, as argv, with the matrix's first values put in."""
    found = []
    for job in load_workflow()["jobs"].values():
        matrix = job.get("strategy", {}).get("matrix", {})
        for step in job["steps"]:
            text = step.get("run")
            if text is None:
                continue
            for key, values in matrix.items():
                text = re.sub(rf"\$\{{\{{\s*matrix\.{key}\s*\}}\}}", str(values[0]), text)
            found.append(shlex.split(text.split(">>")[0]))
    return found


def test_every_command_of_the_workflow_is_accepted_by_provkit(pytester: pytest.Pytester) -> None:
    """pytest, stress-run and provkit commands all parse with today's options."""
    provkit = build_parser()
    programs = []
    for argv in commands():
        program, args = argv[0], argv[1:]
        programs.append(program)
        if program == "pytest":
            config = pytester.parseconfig(*args)
            assert config.getoption("provider") == ["mystore.provider:Factory"]
        elif program == "stress-run":
            parsed = _run_parser().parse_args(args)
            assert parsed.config in PRESETS
        elif program == "provkit":
            provkit.parse_args(args)
        else:
            assert program == "pip", f"a command the test does not know: {argv}"
    assert sorted(set(programs)) == ["pip", "provkit", "pytest", "stress-run"]
