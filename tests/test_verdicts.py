"""Conformance verdict files: JSON round trip, the job summary, the matrix and the badges."""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from provkit.cli import main
from provkit.reporting._badge import COLOURS, badge_file_name, badge_message, badge_svg
from provkit.reporting._verdict import (
    FAIL,
    PARTIAL,
    PASS,
    CategoryCounts,
    ConformanceVerdict,
    FailedTest,
    ProviderVerdict,
    VerdictFileError,
)
from provkit.reporting._verdict_cli import run_matrix
from provkit.reporting._verdict_markdown import compatibility_matrix, step_summary


def passing(spec: str = "sqlite-file") -> ProviderVerdict:
    return ProviderVerdict(
        provider=spec,
        name=spec,
        capabilities=("CLOCK", "LONG_POLL"),
        outcome=PASS,
        verdict=f"PASS: {spec} conforms to provkit conformance suite 1.0.0 (20 passed, 1 skipped)",
        categories={
            "atomicity": CategoryCounts(passed=12, selected=12),
            "management": CategoryCounts(passed=8, skipped=1, by_capability=1, selected=9),
            "deletion": CategoryCounts(),
        },
    )


def failing(spec: str = "mypkg.store:Factory") -> ProviderVerdict:
    return ProviderVerdict(
        provider=spec,
        name="my store",
        capabilities=(),
        outcome=FAIL,
        verdict="FAIL: 3 of 21 tests failed (atomicity)",
        categories={
            "atomicity": CategoryCounts(passed=9, failed=3, selected=12),
            "management": CategoryCounts(skipped=9, by_capability=9, selected=9),
        },
        failures=(
            FailedTest(
                test="test_atomicity.py::test_ack_stores_the_turn_and_releases_the_instance",
                category="atomicity",
                message="read('inst-a') returned [] after ack_orchestration_item stored "
                "[started()]",
                checks="An ack stores its history.",
                foundation="ack_orchestration_item",
            ),
            FailedTest(
                test="test_atomicity.py::test_failed_ack_applies_nothing[x]",
                category="atomicity",
                message="assert [1, 2] == [1]",
            ),
            FailedTest(test="test_atomicity.py::test_other", category="atomicity", message="a | b"),
        ),
    )


def run(*providers: ProviderVerdict) -> ConformanceVerdict:
    return ConformanceVerdict(
        suite_version="1.0.0",
        contract_version="1",
        provkit_version="0.1.0",
        created="2026-11-29T18:00:00+00:00",
        python="3.11.7",
        providers=providers,
    )


def test_verdict_file_round_trips(tmp_path: Path) -> None:
    """What ``write`` writes, ``read`` returns unchanged; the JSON names its format."""
    verdict = run(passing(), failing())
    path = tmp_path / "verdict.json"
    verdict.write(path)

    assert ConformanceVerdict.read(path) == verdict
    document = json.loads(path.read_text())
    assert (document["format"], document["format_version"]) == ("provkit-conformance-verdict", 1)
    entry = document["providers"][1]
    assert entry["categories"]["atomicity"] == {
        "passed": 9,
        "failed": 3,
        "skipped": 0,
        "by_capability": 0,
        "known": 0,
        "selected": 12,
    }
    assert entry["failures"][0]["test"].endswith(
        "test_ack_stores_the_turn_and_releases_the_instance"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(None, "cannot read '{path}': No such file or directory", id="missing"),
        pytest.param("{", "'{path}' is not JSON: *", id="not-json"),
        pytest.param(
            '{"rows": []}',
            "'{path}' is not a provkit conformance verdict (written by pytest "
            "--provkit-report=PATH)",
            id="other-json",
        ),
        pytest.param(
            '{"format": "provkit-conformance-verdict", "format_version": 9}',
            "'{path}' is a verdict of format version 9; this provkit reads version 1",
            id="newer-format",
        ),
        pytest.param(
            '{"format": "provkit-conformance-verdict", "format_version": 1}',
            "'{path}' is a damaged verdict: KeyError('providers')",
            id="damaged",
        ),
    ],
)
def test_unreadable_verdict_is_one_line_naming_the_file(
    tmp_path: Path, content: str | None, message: str
) -> None:
    """Each kind of bad verdict file raises one ``VerdictFileError`` line naming it."""
    path = tmp_path / "verdict.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(VerdictFileError) as raised:
        ConformanceVerdict.read(path)
    expected = message.format(path=path)
    if expected.endswith("*"):
        assert str(raised.value).startswith(expected[:-1])
    else:
        assert str(raised.value) == expected


def test_job_summary_has_verdict_category_table_and_first_failures() -> None:
    """One provider: a headline with the outcome, the verdict line, a row per category that
    ran, the foundation failure to fix first, and the failures with their first lines."""
    text = step_summary(run(failing()))
    lines = text.splitlines()

    assert lines[0] == "### provkit conformance: ❌ FAIL — `mypkg.store:Factory`"
    assert "FAIL: 3 of 21 tests failed (atomicity)" in lines
    assert "| category | passed | failed | skipped | known |" in lines
    assert "| atomicity | 9 | 3 | 0 | 0 |" in lines
    assert "| management | 0 | 0 | 9 | 0 |" in lines
    assert "| **total** | 9 | 3 | 9 | 0 |" in lines
    assert (
        "- `test_atomicity.py::test_ack_stores_the_turn_and_releases_the_instance` "
        "(`ack_orchestration_item`): read('inst-a') returned \\[\\] after "
        "ack\\_orchestration\\_item stored \\[started()\\]"
    ) in lines
    assert "**First failures** (3 of 3):" in lines
    assert "- [atomicity] `test_atomicity.py::test_other`: a \\| b" in lines


def test_job_summary_of_several_providers_is_a_matrix() -> None:
    """Two providers in one run: a matrix with a column each and both verdict lines."""
    text = step_summary(run(passing(), failing()))

    assert text.startswith("### provkit conformance: ❌ FAIL (1 of 2 providers)\n")
    assert "| | `sqlite-file` | `mypkg.store:Factory` |" in text
    assert "| **verdict** | ✅ PASS | ❌ FAIL |" in text
    assert "| atomicity | ✅ 12 | ❌ 3 of 12 failed |" in text
    assert "| management | ✅ 8 | skipped |" in text
    assert "- `mypkg.store:Factory`: FAIL: 3 of 21 tests failed (atomicity)" in text


def test_matrix_of_two_verdict_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``provkit matrix`` puts the providers of two files side by side, capabilities too."""
    files = [tmp_path / "a.json", tmp_path / "b.json"]
    run(passing()).write(files[0])
    run(failing()).write(files[1])

    status = main(["matrix", *map(str, files)])

    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("## Provider compatibility (provkit conformance)\n")
    assert "| **verdict** | ✅ PASS | ❌ FAIL |" in out
    assert "| capabilities | CLOCK, LONG_POLL | none |" in out
    assert "| **total** | ✅ 20 | ❌ 3 of 12 failed |" in out
    assert "deletion" not in out, "a category no provider ran got a row"
    assert out == compatibility_matrix([run(passing()), run(failing())])


def test_matrix_labels_a_provider_repeated_across_files_by_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same spec in two files (say two Python versions) gets two labelled columns."""
    files = [tmp_path / "py311.json", tmp_path / "py313.json"]
    for f in files:
        run(passing()).write(f)

    assert run_matrix(argparse.Namespace(files=[str(f) for f in files], output=None)) == 0
    assert (
        "| | `sqlite-file (py311.json)` | `sqlite-file (py313.json)` |" in capsys.readouterr().out
    )


def test_matrix_of_a_file_that_is_no_verdict_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad file: one ``provkit:`` line on stderr, exit 2, nothing on stdout."""
    bad = tmp_path / "results.json"
    bad.write_text("[]")

    assert run_matrix(argparse.Namespace(files=[str(bad)], output=None)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"provkit: '{bad}' is not a provkit conformance verdict (written by pytest "
        "--provkit-report=PATH)\n"
    )


def test_badges_are_svg_named_after_each_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``provkit badge`` writes one SVG per provider; green for a pass, red naming failures."""
    verdict = tmp_path / "v.json"
    run(passing(), failing()).write(verdict)

    status = main(["badge", str(verdict), "--directory", str(tmp_path)])

    assert status == 0
    passed = ET.parse(tmp_path / "sqlite-file.svg").getroot()
    failed = ET.parse(tmp_path / "mypkg.store-Factory.svg").getroot()
    svg = "{http://www.w3.org/2000/svg}"
    assert [t.text for t in passed.iter(f"{svg}text")] == ["provkit", "conforms to suite 1.0.0"]
    assert [t.text for t in failed.iter(f"{svg}text")] == ["provkit", "3 of 12 tests fail"]
    assert COLOURS[PASS] in [r.get("fill") for r in passed.iter(f"{svg}rect")]
    assert COLOURS[FAIL] in [r.get("fill") for r in failed.iter(f"{svg}rect")]
    assert failed.findtext(f"{svg}title") == (
        "mypkg.store:Factory: FAIL: 3 of 21 tests failed (atomicity)"
    )
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path / 'sqlite-file.svg'}: {passing().verdict}",
        f"{tmp_path / 'mypkg.store-Factory.svg'}: {failing().verdict}",
    ]


def test_badge_directory_is_made_and_an_unusable_one_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing --directory is created; a file in its way is one line on stderr, exit 2."""
    verdict = tmp_path / "v.json"
    run(passing()).write(verdict)
    (tmp_path / "file").write_text("")

    assert main(["badge", str(verdict), "-d", str(tmp_path / "out" / "badges")]) == 0
    assert ET.parse(tmp_path / "out" / "badges" / "sqlite-file.svg").getroot().tag == (
        "{http://www.w3.org/2000/svg}svg"
    )
    capsys.readouterr()
    assert main(["badge", str(verdict), "-d", str(tmp_path / "file" / "badges")]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        f"provkit badge: cannot write into '{tmp_path / 'file' / 'badges'}': Not a directory\n",
    )


def test_badge_of_a_partial_run_is_yellow_and_says_so() -> None:
    """A run of only some categories is not a conformance badge."""
    partial = ProviderVerdict(
        provider="memory",
        name="memory",
        capabilities=(),
        outcome=PARTIAL,
        verdict="PASS (partial): 22 passed; only a selection of the suite ran, ...",
        categories={"atomicity": CategoryCounts(passed=22, selected=22)},
    )
    assert badge_message(partial, "1.0.0") == "partial run: 22 passed"
    assert f'fill="{COLOURS[PARTIAL]}"' in badge_svg(partial, "1.0.0")


def test_badge_file_names_are_safe() -> None:
    """Specs become file names without path separators or colons."""
    assert badge_file_name("mypkg.store:Factory") == "mypkg.store-Factory.svg"
    assert badge_file_name("../x/y:Z") == "..-x-y-Z.svg"
