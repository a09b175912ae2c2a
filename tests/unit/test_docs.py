"""The README documents what a user can type and configure, and draws the modules that exist.

As sqlite-utils tests its docs: every ``regula`` command and option (from the argparse parser
itself), every ``config.yaml`` key (from the typed settings model) and every module under
``retrieval/`` and ``bot/`` (from the tree on disk) must appear in README.md. A failure names
exactly what is missing, so a new option or module fails here until the README says it.
"""

from __future__ import annotations

import argparse
import re

import pytest
from pydantic import BaseModel

from bot.terminal.cli import _parser
from retrieval.config import Settings
from testkit import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PACKAGES = ("retrieval", "bot")


def _section(heading: str) -> str:
    """The README's text from ``heading`` to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    start = README.index(f"\n{heading}\n")
    end = README.find(f"\n{level} ", start + 1)
    return README[start : end if end != -1 else None]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """The long form of every option (the short one when there is none), ``--help`` aside."""
    names = set()
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            longs = [o for o in action.option_strings if o.startswith("--")]
            names.add((longs or action.option_strings)[0])
    return names


def _names(option: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def _command_rows(command: str) -> str:
    """The Command line table's rows for ``regula COMMAND``."""
    rows = [line for line in _section("## Command line").splitlines() if line.startswith("| `")]
    return "\n".join(r for r in rows if re.match(rf"\| `regula {command}(?![\w-])", r))


def test_every_command_has_a_row_in_the_command_table() -> None:
    missing = [name for name in _subcommands() if not _command_rows(name)]
    assert missing == [], f"README.md's Command line table has no row for: {missing}"


def test_every_command_option_is_documented() -> None:
    commands = _subcommands()
    common = set.intersection(*(_options(p) for p in commands.values()))
    intro = _section("## Command line").split("\n| ", 1)[0]
    missing = [f"regula {o} (every command)" for o in sorted(common) if not _names(o, intro)]
    for name, parser in commands.items():
        rows = _command_rows(name)
        for option in sorted(_options(parser) - common):
            if not _names(option, rows):
                missing.append(f"regula {name} {option}")
        for action in parser._actions:  # a positional with choices acts as a subcommand
            if not action.option_strings and action.choices:
                missing += [f"regula {name} {c}" for c in action.choices if c not in rows]
    assert missing == [], f"README.md's Command line section does not document: {missing}"


def _config_keys() -> list[tuple[str, str]]:
    keys = []
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type), section
        assert issubclass(model, BaseModel), section
        keys += [(section, key) for key in model.model_fields]
    return keys


def test_every_config_key_is_documented() -> None:
    rows = {
        m.group(1): line
        for line in _section("## Configuration").splitlines()
        if (m := re.match(r"\| `(\w+)` \|", line))
    }
    missing = [
        f"{section}.{key}"
        for section, key in _config_keys()
        if f"`{key}`" not in rows.get(section, "")
    ]
    assert missing == [], f"README.md's Configuration table does not document: {missing}"


# -- the architecture tree ----------------------------------------------------------------------

_ENTRY = re.compile(r"^(?P<indent> *)(?P<names>[\w.]+/|\w+\.py(?:, \w+\.py)*)(?: |$)")


def _drawn_modules() -> set[str]:
    """The ``.py`` paths the tree in "## How it works" draws (two spaces per level)."""
    block = _section("## How it works").split("```", 2)[1]
    drawn, folders = set(), []
    for line in block.splitlines():
        entry = _ENTRY.match(line)
        if not entry:
            continue
        depth = len(entry["indent"]) // 2
        folders = folders[:depth]
        if entry["names"].endswith("/"):
            folders.append(entry["names"].rstrip("/"))
        else:
            drawn |= {"/".join([*folders, name]) for name in entry["names"].split(", ")}
    return drawn


def _modules_on_disk() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__init__.py"
    }


def test_the_architecture_tree_names_every_module() -> None:
    missing = sorted(_modules_on_disk() - _drawn_modules())
    assert missing == [], f"README.md's tree under '## How it works' does not draw: {missing}"


def test_the_architecture_tree_names_no_module_that_is_gone() -> None:
    gone = sorted(m for m in _drawn_modules() - _modules_on_disk() if m.startswith(PACKAGES))
    assert gone == [], f"README.md's tree under '## How it works' draws missing modules: {gone}"


@pytest.mark.parametrize("package", PACKAGES)
def test_the_tree_parser_sees_the_package(package: str) -> None:
    """Guards the checks above: a tree drawn in another shape would make them pass vacuously."""
    assert any(m.startswith(f"{package}/") for m in _drawn_modules())
