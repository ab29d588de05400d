"""The README's Quickstart runs as written and matches ``examples/quickstart.py``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def quickstart_block() -> str:
    """The first ```python block of the README's "## Quickstart" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "README's Quickstart section has no ```python block"
    return match.group(1)


def test_readme_quickstart_runs_and_prints_the_result(tmp_path: Path) -> None:
    """The Quickstart code, run alone in a fresh interpreter, prints the orchestration output."""
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart_block(), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Completed ['Hello, Ada!', 'Hello, Alan!']\n"


def test_readme_quickstart_is_the_example_file() -> None:
    """``examples/quickstart.py`` is exactly the code shown in the README."""
    example = (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")
    assert quickstart_block() == example
