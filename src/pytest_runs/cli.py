"""The ``pytest-runs`` command.

``pytest-runs scan [PATH ...]`` searches files for secrets (default: the project's cassette directory) and exits 1 when
it finds any. Project settings (``runs_cassette_dir``, ``runs_secret_env``, ``runs_redact``) are read from the pytest
configuration file found from the current directory upwards, as pytest finds it.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .redact import Rules, parse_rule_lines
from .scan import scan_paths

__all__ = ["ProjectSettings", "main", "project_settings"]

DEFAULT_CASSETTE_DIR = "cassettes"


@dataclass
class ProjectSettings:
    """The pytest-runs ini values of a project, and where they were found."""

    root: Path
    source: Path | None = None
    values: dict[str, list[str]] = field(default_factory=dict)

    def line_list(self, name: str) -> list[str]:
        """An ini value as a list of lines (empty when not set)."""
        return self.values.get(name, [])

    @property
    def cassette_dir(self) -> Path:
        """The project's cassette directory."""
        configured = self.line_list("runs_cassette_dir")
        return self.root / (configured[0] if configured else DEFAULT_CASSETTE_DIR)


def _as_lines(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [line for line in str(value).splitlines() if line.strip()]


def _ini_section(path: Path, section: str) -> dict[str, list[str]] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return None
    if not parser.has_section(section):
        return None
    return {key: _as_lines(value) for key, value in parser.items(section)}


def project_settings(start: Path) -> ProjectSettings:
    """Find the pytest configuration file from ``start`` upwards (pytest.ini, .pytest.ini, pyproject.toml,
    tox.ini, setup.cfg) and read its pytest-runs values; without one, ``start`` is the root and defaults apply."""
    for directory in [start, *start.parents]:
        for name in ("pytest.ini", ".pytest.ini"):
            if (directory / name).is_file():
                values = _ini_section(directory / name, "pytest") or {}
                return ProjectSettings(directory, directory / name, values)
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError):
                data = {}
            options = data.get("tool", {}).get("pytest", {}).get("ini_options")
            if isinstance(options, dict):
                return ProjectSettings(
                    directory, pyproject, {key: _as_lines(value) for key, value in options.items()}
                )
        for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
            if (directory / name).is_file():
                found = _ini_section(directory / name, section)
                if found is not None:
                    return ProjectSettings(directory, directory / name, found)
    return ProjectSettings(start)


def _scan(arguments: argparse.Namespace) -> int:
    settings = project_settings(Path.cwd())
    origin = f"{settings.source.name} runs_redact" if settings.source else "runs_redact"
    try:
        rules = Rules.build(
            [
                *[name for line in settings.line_list("runs_secret_env") for name in line.split()],
                *arguments.secret_env,
            ],
            [
                *parse_rule_lines(settings.line_list("runs_redact"), origin),
                *parse_rule_lines(arguments.rule, "--rule"),
            ],
        )
    except ValueError as error:
        print(f"pytest-runs scan: {error}", file=sys.stderr)
        return 2
    paths = [Path(path) for path in arguments.paths] or [settings.cassette_dir]
    try:
        findings, scanned = scan_paths(paths, rules, shown_from=Path.cwd())
    except FileNotFoundError as error:
        default = "" if arguments.paths else " (the project's cassette directory; pass paths to scan others)"
        print(f"pytest-runs scan: {error.args[0]} does not exist{default}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    files = len({finding.path for finding in findings})
    if findings:
        print(
            f"pytest-runs scan: {len(findings)} finding(s) in {files} of {scanned} file(s). Remove the secrets "
            "(record the cassettes again once a redaction rule covers them), and revoke any real key that was "
            "committed.",
            file=sys.stderr,
        )
        return 1
    print(f"pytest-runs scan: no secrets found in {scanned} file(s)", file=sys.stderr)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pytest-runs", description="pytest-runs: record and replay Assistants runs (companion commands)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    scan = commands.add_parser(
        "scan",
        help="find secrets in cassettes and other files; exit 1 if any",
        description="Search files for secret values and key-shaped strings (decoding binary and gzip bodies of "
        "YAML cassettes). Exit status: 0 clean, 1 secrets found, 2 usage error.",
    )
    scan.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories (default: the cassette directory)"
    )
    scan.add_argument(
        "--secret-env",
        action="append",
        default=[],
        metavar="NAME",
        help="also search for the value of this environment variable (besides OPENAI_API_KEY, ... and ini "
        "runs_secret_env); repeatable",
    )
    scan.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="RULE",
        help="also search for this literal, or re:PATTERN (besides ini runs_redact); repeatable",
    )
    scan.set_defaults(run=_scan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pytest-runs`` command; returns the exit status."""
    arguments = _parser().parse_args(argv)
    status: int = arguments.run(arguments)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
