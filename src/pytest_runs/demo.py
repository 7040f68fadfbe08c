"""``pytest-runs demo``: the main job in one command, on the embedded emulator.

It copies the example suite (``examples/``) to a temporary project, records it against a freshly started emulator
(``--runs-record-mode=once --snapshot-update``), stops the emulator, replays the suite offline (record mode ``none``:
the network is blocked, no key is set), and prints what was recorded: every cassette's timeline and the snapshots.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["examples_dir", "run_demo"]

_PACKAGE = Path(__file__).resolve().parent


def examples_dir() -> Path | None:
    """The example suite: ``examples/`` of a source checkout, or the copy shipped inside the package."""
    for candidate in (_PACKAGE.parent.parent / "examples", _PACKAGE / "_examples"):
        if (candidate / "test_assistant_runs.py").is_file():
            return candidate
    return None


def _pytest(project: Path, arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        *arguments,
    ]
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, check=False, timeout=600
    )


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    return lines[-1].strip("= ") if lines else "(no output)"


def _error(text: str) -> None:
    print(text, file=sys.stderr)


def run_demo(write: Callable[[str], None] = print, keep: Path | None = None) -> int:
    """Record the example suite on the emulator, replay it offline, and report; returns the exit status.

    With ``keep``, the project (tests, cassettes, snapshots) is left in that directory instead of a temporary one.
    """
    from .emulator import Emulator
    from .storage import load_cassette
    from .timeline import render_timeline

    source = examples_dir()
    if source is None:
        _error("pytest-runs demo: the example suite is not available (no examples/ next to the package).")
        return 2
    with tempfile.TemporaryDirectory(prefix="pytest-runs-demo-") as temporary:
        project = keep if keep is not None else Path(temporary) / "project"
        if project.exists() and (not project.is_dir() or any(project.iterdir())):
            _error(
                f"pytest-runs demo: {project} is not an empty directory; give an empty or new one to --keep."
            )
            return 2
        shutil.copytree(
            source, project, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__*__", "cassettes")
        )
        # The copy is a project of its own: its rootdir, no settings inherited from a parent directory.
        (project / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        base_env = {
            name: value
            for name, value in os.environ.items()
            if name not in {"OPENAI_API_KEY", "OPENAI_BASE_URL", "PYTEST_ADDOPTS"}
        }

        with Emulator(poll_after_ms=50) as emulator:
            write(f"1. Recording {source.name}/ against the emulator at {emulator.base_url}")
            env = {**base_env, "OPENAI_BASE_URL": emulator.base_url, "OPENAI_API_KEY": "demo-key"}
            recorded = _pytest(project, ["--runs-record-mode=once", "--snapshot-update"], env)
        write(f"   {_last_line(recorded)}")
        if recorded.returncode != 0:
            write(recorded.stdout + recorded.stderr)
            return 1

        write("2. Replaying offline: emulator stopped, no API key, network blocked")
        replayed = _pytest(project, [], base_env)
        write(f"   {_last_line(replayed)}")
        if replayed.returncode != 0:
            write(replayed.stdout + replayed.stderr)
            return 1

        write("3. What was recorded")
        for path in sorted((project / "cassettes").rglob("*.yaml")):
            write(f"\n{path.relative_to(project)}")
            write(render_timeline(load_cassette(path)).rstrip("\n"))
        for snapshot in sorted(project.rglob("__snapshots__/*.ambr")):
            write(f"\n{snapshot.relative_to(project)}")
            write(snapshot.read_text(encoding="utf-8").rstrip("\n"))
        if keep is not None:
            write(f"\nThe project is in {project}")
    return 0
