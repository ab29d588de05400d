"""Process-level faults of the SQLite provider: unclosed providers, locked and unusable files.

A program that forgets to close a provider (or a runtime) still exits and keeps what it
committed; a database another process holds the write lock of stays readable, and writes
go through once the lock is released; a file that cannot be opened gets one line naming
the path and the cause, also through ``pytest --provider`` and ``stress-run``.

The write lock is held for 1.5 s (the busy timeout is then 0.5 s, so the client must
retry); the ``exhaustive`` variant, run in CI, holds it for 8 s against the default busy
timeout of 5 s.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from provkit.contract import ProviderError, TransientError
from provkit.contract import events as ev
from provkit.contract.messages import StartOrchestration
from provkit.reference_providers import FileSqliteFactory, SqliteProvider
from provkit.reference_providers._sqlite_conn import DEFAULT_BUSY_TIMEOUT
from provkit.runtime import Client, OrchestrationStatus
from provkit.stress.cli import main as stress_main

EXAMPLES = Path(__file__).parent / "examples"

UNCLOSED = textwrap.dedent(
    """
    import asyncio, sys
    from provkit.reference_providers import SqliteProvider
    from provkit.runtime import Client, Runtime

    async def twice(ctx, x):
        return await ctx.schedule_activity("double", x)

    async def main():
        provider = await SqliteProvider.open_file(sys.argv[1])
        runtime = Runtime(provider, orchestrations={"twice": twice},
                          activities={"double": lambda x: 2 * x})
        await runtime.start()
        client = Client(provider)
        await client.start_orchestration("kept", "twice", 21)
        await client.wait_for_orchestration("kept", timeout=30)
        print("raising", flush=True)
        raise RuntimeError("the program forgot to close its provider and runtime")

    asyncio.run(main())
    """
)

HOLDER = textwrap.dedent(
    """
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    conn.execute("COMMIT")
    """
)


def test_program_that_raises_without_closing_provider_or_runtime_exits_within_2_s(
    tmp_path: Path,
) -> None:
    """An uncaught exception with a file provider and a runtime still open: exit in < 2 s."""
    path = tmp_path / "unclosed.db"
    child = subprocess.Popen(
        [sys.executable, "-c", UNCLOSED, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "raising\n"
        raised = time.monotonic()
        code = child.wait(timeout=10)
        exited = time.monotonic() - raised
        stderr = child.communicate()[1]
    finally:
        child.kill()

    assert code == 1
    assert stderr.splitlines()[-1] == (
        "RuntimeError: the program forgot to close its provider and runtime"
    )
    assert exited < 2.0, f"the process took {exited:.1f} s to exit"

    async def reopened() -> list[ev.Event]:
        async with await SqliteProvider.open_file(path) as provider:
            return await provider.read("kept")

    history = asyncio.run(reopened())
    assert isinstance(history[-1], ev.OrchestrationCompleted), "committed history was lost"
    assert history[-1].output == "42"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("hold", "busy_timeout"),
    [
        pytest.param(1.5, 0.5, id="1.5s"),
        pytest.param(8.0, DEFAULT_BUSY_TIMEOUT, id="8s", marks=pytest.mark.exhaustive),
    ],
)
async def test_reads_succeed_and_a_start_goes_through_once_another_process_releases_the_lock(
    tmp_path: Path, hold: float, busy_timeout: float
) -> None:
    """With the write lock held elsewhere for ``hold`` s, reads return at once; a start waits
    for the lock (longer than busy_timeout: the client retries) and then goes through."""
    path = tmp_path / "locked.db"
    provider = await SqliteProvider.open_file(path, busy_timeout=busy_timeout)
    holder: asyncio.subprocess.Process | None = None
    try:
        client = Client(provider)
        await client.start_orchestration("before", "work", 1)
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLDER, str(path), str(hold), stdout=asyncio.subprocess.PIPE
        )
        assert holder.stdout is not None
        assert await holder.stdout.readline() == b"locked\n"
        locked = time.monotonic()
        released = asyncio.ensure_future(holder.wait())

        read_started = time.monotonic()
        # Issued together, so a provider that batches queued calls would batch these.
        state, history, executions = await asyncio.gather(
            client.get_status("before"),
            provider.read_execution("before", 1),
            provider.list_executions("before"),
        )
        read_took = time.monotonic() - read_started
        await client.start_orchestration("during", "work", 2)
        started_after = time.monotonic() - locked
        assert await released == 0
    finally:
        if holder is not None and holder.returncode is None:
            holder.kill()
            await holder.wait()
        await provider.close()

    assert (state.status, history, executions) == (OrchestrationStatus.NOT_FOUND, [], [])
    assert read_took < min(0.5, busy_timeout), f"reads waited {read_took:.2f} s for the lock"
    assert started_after >= hold - 0.1, "the start was written while the lock was held"
    async with await SqliteProvider.open_file(path) as reopened:
        first = await reopened.fetch_orchestration_item(30.0)
        second = await reopened.fetch_orchestration_item(30.0)
    assert first is not None
    assert second is not None
    assert [first.instance, second.instance] == ["before", "during"]
    assert second.messages == [
        StartOrchestration(instance="during", orchestration="work", input="2")
    ]


@pytest.mark.asyncio
async def test_busy_timeout_is_how_long_a_write_waits_for_the_lock(tmp_path: Path) -> None:
    """A write blocked by another connection fails with TransientError after busy_timeout."""
    path = tmp_path / "busy.db"
    async with await SqliteProvider.open_file(path, busy_timeout=0.2) as provider:
        holder = await asyncio.create_subprocess_exec(
            sys.executable, "-c", HOLDER, str(path), "0.5", stdout=asyncio.subprocess.PIPE
        )
        assert holder.stdout is not None
        assert await holder.stdout.readline() == b"locked\n"
        began = time.monotonic()
        with pytest.raises(TransientError, match="database is locked"):
            await provider.enqueue_for_orchestrator(
                StartOrchestration(instance="i", orchestration="o", input="1")
            )
        waited = time.monotonic() - began
        await holder.wait()
    assert 0.15 <= waited < 0.45, f"the write waited {waited:.2f} s (busy_timeout 0.2 s)"
    with pytest.raises(ValueError, match="busy_timeout must be"):
        await SqliteProvider.open_file(path, busy_timeout=-1)


def _read_only_place(tmp_path: Path) -> Path:
    """A directory this process cannot create files in (root ignores permission bits)."""
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    try:
        (directory / "probe").touch()
    except PermissionError:
        return directory
    (directory / "probe").unlink()
    return Path("/sys")  # read-only to root as well on Linux


@pytest.mark.asyncio
async def test_unusable_file_paths_fail_with_one_line_naming_path_and_cause(
    tmp_path: Path,
) -> None:
    """A missing directory, a file used as a directory, a read-only place: one clear line."""
    a_file = tmp_path / "plain-file"
    a_file.write_text("not a directory")
    read_only = _read_only_place(tmp_path)
    cases = {
        tmp_path / "missing" / "deeper" / "x.db": (
            f"directory {tmp_path / 'missing' / 'deeper'} does not exist"
        ),
        a_file / "x.db": f"{a_file} is not a directory",
        read_only / "x.db": f"directory {read_only} is not writable (Permission denied)",
        tmp_path: "it is a directory",
    }
    messages = {}
    for path, _ in cases.items():
        with pytest.raises(ProviderError) as raised:
            await SqliteProvider.open_file(path)
        messages[path] = str(raised.value)

    assert messages == {
        path: f"open: cannot open SQLite database {path}: {cause}" for path, cause in cases.items()
    }
    with pytest.raises(ProviderError) as raised:
        await FileSqliteFactory(str(tmp_path / "nowhere")).create_provider()
    assert str(raised.value) == (
        f"open: cannot create a database directory in {tmp_path / 'nowhere'}: "
        "No such file or directory"
    )


def test_missing_directory_is_one_line_in_pytest_and_stress_run(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pytest --provider`` and ``stress-run`` both end with one line naming path and cause."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    from faulty_factories import MISSING

    spec = "faulty_factories:MissingDirectoryFactory"
    cause = f"cannot open SQLite database {MISSING}: directory {os.path.dirname(MISSING)} "
    pytester.copy_example("faulty_factories.py")
    result = pytester.runpytest_inprocess(f"--provider={spec}", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.strip()]
    assert len(errors) == 1, errors
    assert cause + "does not exist" in errors[0]

    capsys.readouterr()
    assert stress_main(["--config", "quick", "--provider", spec, "--duration", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert cause + "does not exist" in err[0]
