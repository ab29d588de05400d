"""How hard provkit's own tests work by default, and what CI adds.

Tests marked ``exhaustive`` (a module marks itself with ``pytestmark``) are too slow for the
default run: ``pytest -q`` (the README's test command) deselects them and ``.ci/run`` runs
them with ``pytest -m exhaustive``.
Property tests without explicit settings run the ``quick`` Hypothesis profile (25 examples);
CI runs them again with ``--hypothesis-profile=thorough`` (200). Neither has a deadline: on a
shared, loaded machine a slow example is not a failure.

The whole run (``pytest`` with no paths, as in the README and CI) spreads its tests over the
machine's cores with pytest-xdist (dev extra); naming files or tests runs them in this one
process, and ``-n N`` chooses, ``-n 0`` keeps even the whole run in one process.

Many tests run the real suite in-process (pytester). pytester puts ``sys.modules`` back after
each run, so a suite module first imported inside one would be imported, and its asserts
rewritten, again by every run (seconds each); imported here once, they are reused.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from pathlib import Path

if sys.dont_write_bytecode:
    # These tests start dozens of Python processes and in-process pytest runs that import the
    # suite, provkit and Hypothesis again; without a bytecode cache each one compiles them and
    # rewrites their asserts anew, which doubles the run's time. The cache goes under
    # .pytest_cache, so the source tree and the venv stay free of .pyc files as asked.
    _PREFIX = str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "pycache")
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = _PREFIX
    sys.dont_write_bytecode = False
    sys.pycache_prefix = _PREFIX

# Imported once the bytecode cache is in place, so that they use it too.
import pytest
from hypothesis import settings

import provkit.conformance.suite
from provkit.conformance.plugin import provider_specs

settings.register_profile("quick", max_examples=25, deadline=None)
settings.register_profile("thorough", max_examples=200, deadline=None)
settings.load_profile("quick")

for _module in pkgutil.iter_modules(provkit.conformance.suite.__path__):
    importlib.import_module(f"{provkit.conformance.suite.__name__}.{_module.name}")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    whole_run = config.args_source is pytest.Config.ArgsSource.TESTPATHS
    if (
        whole_run
        and not hasattr(config, "workerinput")  # an xdist worker: never start workers of its own
        and config.pluginmanager.has_plugin("xdist")
        and config.getoption("numprocesses", None) is None
        and not config.getoption("usepdb")
        and not provider_specs(config)  # the conformance suite itself, run from this directory
    ):
        config.option.numprocesses = "auto"
