"""The mutant catalogue and ``provkit mutants``, checked cheaply.

Every mutant names a sentence that really is in the contract's docstrings and loads as a
provider spec; the runner judges a killed and a surviving mutant on one small category and
reports them in its table, JSON and markdown, with the right exit status. Judging the whole
catalogue against the whole suite is a CI step (``provkit mutants`` in ``.ci/run``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from provkit._provider_spec import load_factory
from provkit.cli import main
from provkit.mutants import CATALOGUE, Mutant
from provkit.mutants import _runner as runner
from provkit.mutants._coverage import EXEMPT, coverage, docstring, plain

KILLED_BY_MULTI_EXECUTION = "read-returns-first-execution"
ALIVE_IN_MULTI_EXECUTION = "worker-claim-check-then-set"


def test_catalogue_has_at_least_40_mutants_on_both_bases() -> None:
    """Over 40 mutants with unique names, on the SQLite, in-memory and wrapper bases."""
    names = [mutant.name for mutant in CATALOGUE]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert {"memory", "sqlite", "memory (wrapped)", "sqlite (wrapped)"} == {
        mutant.base for mutant in CATALOGUE
    }


@pytest.mark.parametrize("mutant", CATALOGUE, ids=[mutant.name for mutant in CATALOGUE])
def test_mutant_quotes_the_contract_and_loads_as_a_spec(mutant: Mutant) -> None:
    """The sentence a mutant breaks is in that docstring, and its spec names a factory."""
    assert plain(mutant.breaks.sentence) in docstring(mutant.breaks.where)
    assert mutant.bug != ""
    assert not mutant.bug.startswith("Bug")
    factory = load_factory(mutant.spec, Path.cwd())
    assert callable(factory.create_provider)


def test_every_contract_clause_is_broken_by_a_mutant_or_exempt() -> None:
    """Each clause of the Provider docstrings has a mutant breaking it, or a reason why not."""
    clauses = coverage(CATALOGUE)

    assert [f"{c.where}: {c.text}" for c in clauses if not c.covered] == []
    assert set(EXEMPT) <= {c.text for c in clauses}, "an exemption names a clause that is gone"
    assert sum(bool(c.mutants) for c in clauses) >= 80


def test_runner_judges_a_killed_and_a_surviving_mutant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """On one category: one mutant killed (with its test named), one survives; exit 1 at 50 %."""
    json_path, markdown_path = tmp_path / "mutants.json", tmp_path / "mutants.md"

    status = main(
        [
            "mutants",
            *("--mutant", KILLED_BY_MULTI_EXECUTION, "--mutant", ALIVE_IN_MULTI_EXECUTION),
            *("--category", "multi_execution"),
            *("--json", str(json_path), "--markdown", str(markdown_path)),
        ]
    )

    assert status == 1
    document = json.loads(json_path.read_text(encoding="utf-8"))
    assert document["score"] == {"killed": 1, "total": 2, "percent": 50.0}
    judged = {m["name"]: m for m in document["mutants"]}
    killed, alive = judged[KILLED_BY_MULTI_EXECUTION], judged[ALIVE_IN_MULTI_EXECUTION]
    assert (killed["verdict"], alive["verdict"]) == ("killed", "survived")
    assert killed["killed_by"][0].startswith("test_multi_execution.py::")
    assert alive["killed_by"] == []
    out, err = capsys.readouterr()
    assert "score: 1/2 mutants killed (50.0 %)" in out
    assert re.search(rf"^{KILLED_BY_MULTI_EXECUTION} +sqlite +Provider.read: ", out, re.M)
    assert len(re.findall(r"^\[\d/2\] (killed|survived) ", err, re.M)) == 2
    markdown = markdown_path.read_text(encoding="utf-8")
    assert "score: 1/2 mutants killed (50.0 %)" in markdown
    assert re.search(
        rf"^\| `{ALIVE_IN_MULTI_EXECUTION}` +\| memory +\|.*\| survived ", markdown, re.M
    )


def test_a_failing_control_voids_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When the unmutated base fails the stage, the mutant is not judged and the exit is 2."""
    broken_base = "provkit.mutants.history:CurrentExecutionIsTheLastNamed.factory"
    monkeypatch.setitem(runner.CONTROLS, "memory", broken_base)

    status = main(
        ["mutants", "--mutant", ALIVE_IN_MULTI_EXECUTION, "--category", "multi_execution"]
    )

    assert status == 2
    out, err = capsys.readouterr()
    assert re.search(rf"^{ALIVE_IN_MULTI_EXECUTION} .* error +no control", out, re.M)
    assert f"the unmutated {broken_base} fails the selected stage" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--mutant", "no-such-mutant"], "provkit mutants: no mutant named 'no-such-mutant'"),
        (["--category", "no_such_category"], "provkit mutants: no suite category no_such_category"),
    ],
    ids=["unknown-mutant", "unknown-category"],
)
def test_bad_arguments_end_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown mutant or category: one line naming it on stderr, exit 2, nothing run."""
    assert main(["mutants", *argv]) == 2
    out, err = capsys.readouterr()
    assert (out, err.splitlines()[0].split(";")[0]) == ("", message)


def test_list_prints_every_mutant_with_its_spec(capsys: pytest.CaptureFixture[str]) -> None:
    """``--list`` prints one line per mutant: name, base and the --provider spec to use."""
    assert main(["mutants", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CATALOGUE)
    assert lines[0].split() == [
        CATALOGUE[0].name,
        *CATALOGUE[0].base.split(),
        f"--provider={CATALOGUE[0].spec}",
    ]


def test_contention_test_reports_overlapping_holders_instead_of_crashing(
    pytester: pytest.Pytester,
) -> None:
    """Against a provider handing one instance to two fetchers, the race test names the overlap."""
    spec = "provkit.mutants.orchestrator_queue:FetchIgnoresLock.factory"

    result = pytester.runpytest_inprocess(
        f"--provider={spec}", "-k", "many_contending", "-p", "no:cacheprovider"
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*overlapping holders*got it while fetcher*"])
    result.stdout.no_fnmatch_line("*KeyError*")
