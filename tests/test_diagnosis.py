"""Diagnosis against broken providers of the mutant catalogue: the first failure a provider
author sees names the operation that is actually wrong, and the summary sends them there.

Each run selects the foundation tests only (``-m foundation``): they run first in a whole
run, so its first failure is theirs. One in-process run per mutant, a second or two each.
"""

from __future__ import annotations

import re

import pytest

from provkit.conformance._layout import SUITE_DIR
from provkit.conformance._markers import CATEGORIES
from provkit.mutants import find

FIRST_FAILURE_NAMES_THE_OPERATION = [
    "fetch-does-not-lock",
    "ack-keeps-lock",
    "ack-keeps-batch",
    "abandon-keeps-lock",
    "work-abandon-keeps-lease",
    "read-returns-first-execution",
]
"""Mutants whose bug breaks the simplest behaviour of the operation their contract
sentence is about (``Mutant.breaks.where``)."""


CORE = [str(SUITE_DIR / f"test_{category}.py") for category in CATEGORIES]
"""The modules holding the foundation tests: collecting only them keeps each run short."""


@pytest.mark.parametrize("name", FIRST_FAILURE_NAMES_THE_OPERATION)
def test_first_failure_names_the_broken_operation_and_is_to_be_fixed_first(
    pytester: pytest.Pytester, name: str
) -> None:
    """The first failed test is a foundation test; its first line, shown in the summary's
    "fix these first", names the operation the mutant breaks."""
    mutant = find(name)
    operation = mutant.breaks.where.removeprefix("Provider.")
    result = pytester.runpytest_inprocess(
        f"--provider={mutant.spec}", "-m", "foundation", "-v", "-p", "no:cacheprovider", *CORE
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    failed = [line for line in result.outlines if re.search(r"::test_\w+.* FAILED", line)]
    fix_first = [line for line in result.outlines if line.startswith("fix these first: ")]
    assert len(fix_first) == 1, result.stdout.str()
    first_test = fix_first[0].removeprefix("fix these first: ").split(" (", 1)[0]
    index = result.outlines.index(fix_first[0])
    reason = result.outlines[index + 1].strip()

    assert re.search(rf"\b{operation}\(?\b", reason), (
        f"{name}: the first failure does not name {operation}: {reason!r}"
    )
    module, _, test = first_test.partition("::")
    assert (module.startswith("test_"), test.startswith("test_")) == (True, True), first_test
    assert failed, "no test failed"
    assert f"::{test} FAILED" in failed[0], f"{first_test} is not the first failure"
