"""The main job in one command: ``pytest-runs demo`` records the example suite on the emulator and replays it offline,
and the README shows what it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _without_timings(text: str) -> list[str]:
    text = re.sub(r"http://127\.0\.0\.1:\d+/v1", "http://127.0.0.1:PORT/v1", text)
    text = re.sub(r"passed in [\d.]+s", "passed in Ts", text)
    return text.splitlines()


def test_demo_records_replays_and_shows_what_the_readme_shows(tmp_path: Path) -> None:
    keep = tmp_path / "project"
    result = subprocess.run(
        [str(Path(sys.executable).with_name("pytest-runs")), "demo", "--keep", str(keep)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = _without_timings(result.stdout)
    assert output[:4] == [
        "1. Recording examples/ against the emulator at http://127.0.0.1:PORT/v1",
        "   3 passed in Ts",
        "2. Replaying offline: emulator stopped, no API key, network blocked",
        "   3 passed in Ts",
    ]
    # The README's copy of the output is what the command prints (up to the elided end of the snapshot file).
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```console\n.venv/bin/pytest-runs demo\n```\n\n```\n", 1)[1].split(
        "    ...\n```", 1
    )[0]
    shown_lines = _without_timings(shown)
    assert output[: len(shown_lines)] == shown_lines
    # What the demo left behind: cassettes that pass the checks, and the snapshots it replayed against.
    assert len(list((keep / "cassettes").rglob("*.yaml"))) == 3
    assert (keep / "__snapshots__" / "test_assistant_runs.ambr").is_file()
    check = subprocess.run(
        [str(Path(sys.executable).with_name("pytest-runs")), "check"],
        cwd=keep,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_demo_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x", encoding="utf-8")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("pytest-runs")), "demo", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"pytest-runs demo: {tmp_path} is not an empty directory; give an empty or new one to --keep.\n"
    )
    on_a_file = subprocess.run(
        [str(Path(sys.executable).with_name("pytest-runs")), "demo", "--keep", str(tmp_path / "something")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert on_a_file.returncode == 2
    assert "is not an empty directory" in on_a_file.stderr
