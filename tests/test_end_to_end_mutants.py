"""A provider that passes every contract category and still fails end to end exists.

``provkit.mutants.end_to_end`` holds such mutants. In-process runs (``exhaustive``: CI runs
them, each takes a suite collection and tens of seconds): the end-to-end scenario that
rejects the mutant, every other category against it (it passes them all), and end_to_end
against the unmutated provider (the control).
"""

from __future__ import annotations

import pytest

from provkit.mutants import end_to_end

pytestmark = pytest.mark.exhaustive

SPEC = "--provider=provkit.mutants.end_to_end:HistoryFirstPageOnly.factory"
SCENARIO = "test_orchestration_with_100_steps_completes_each_step_once_in_order"


def test_history_paging_mutant_fails_the_100_step_scenario(pytester: pytest.Pytester) -> None:
    """The mutant fails the 100-step orchestration (its instance never finishes)."""
    # A fifth of the usual waits: the scenario gives up on the instance after 4 s, not 20.
    reprec = pytester.inline_run(
        SPEC,
        "-m",
        "end_to_end",
        "-k",
        SCENARIO,
        "--provkit-timescale=0.2",
        "-p",
        "no:cacheprovider",
    )

    passed, _, failed = reprec.listoutcomes()
    assert (len(passed), [report.head_line for report in failed]) == (0, [SCENARIO])
    assert end_to_end.__all__ == ["HistoryFirstPageOnly"]


@pytest.mark.parametrize(
    ("spec", "selection"),
    [(SPEC, "not end_to_end"), ("--provider=sqlite-memory", "end_to_end")],
    ids=["mutant-passes-the-rest", "control-passes-end-to-end"],
)
def test_only_end_to_end_tells_the_mutant_from_the_reference(
    pytester: pytest.Pytester, spec: str, selection: str
) -> None:
    """Every category but end_to_end passes against the mutant; the unmutated provider (the
    control) passes end_to_end."""
    reprec = pytester.inline_run(spec, "-m", selection, "-p", "no:cacheprovider")

    passed, _, failed = reprec.listoutcomes()
    assert (failed, len(passed) >= 20) == ([], True)
