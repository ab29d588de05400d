"""Each mutant of the capabilities module is rejected by the category its docstring names.

One in-process run of that one category per mutant (``exhaustive``: CI runs these), plus a
run of the unmutated SQLite provider over all of those categories as the control.
"""

from __future__ import annotations

import inspect
import re

import pytest

from provkit.conformance._markers import EXTENDED
from provkit.mutants import capabilities

pytestmark = pytest.mark.exhaustive

REJECTED_BY = {
    name: re.search(r"Rejected by: (\w+)", inspect.getdoc(getattr(capabilities, name)) or "")
    for name in capabilities.__all__
}


def test_every_extended_category_rejects_a_capability_mutant() -> None:
    """Each mutant names one extended category, and together they name all nine."""
    categories = {name: match.group(1) if match else None for name, match in REJECTED_BY.items()}
    assert set(categories.values()) == set(EXTENDED), categories


@pytest.mark.parametrize("name", capabilities.__all__)
def test_mutant_fails_its_category(pytester: pytest.Pytester, name: str) -> None:
    """The mutant fails at least one test of its category, and passes at least one."""
    match = REJECTED_BY[name]
    assert match is not None, f"{name} names no rejecting category"
    spec = f"--provider=provkit.mutants.capabilities:{name}.factory"

    reprec = pytester.inline_run(spec, "-m", match.group(1), "-p", "no:cacheprovider")

    passed, _, failed = reprec.listoutcomes()
    assert (len(failed) > 0, len(passed) > 0) == (True, True), (len(failed), len(passed))


def test_unmutated_provider_passes_those_categories(pytester: pytest.Pytester) -> None:
    """The control: sqlite-memory passes every extended category."""
    reprec = pytester.inline_run(
        "--provider=sqlite-memory", "-m", " or ".join(EXTENDED), "-p", "no:cacheprovider"
    )

    passed, _, failed = reprec.listoutcomes()
    assert (failed, len(passed) > 150) == ([], True)
