"""The sans-IO core and the strategies import no trio and nothing above them (DESIGN 2).

Checked statically with ``ast`` so that a lazy import inside a function, or one
under ``if TYPE_CHECKING:``, counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import trio_zmq

PACKAGE_ROOT = Path(trio_zmq.__file__).resolve().parent
#: Packages that must stay free of trio and of the rest of trio_zmq.
ISOLATED = ("trio_zmq._zmtp", "trio_zmq._strategies")


def _inside(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def _is_trio(module: str) -> bool:
    return module == "trio" or module.startswith("trio.")


def _resolve(module_name: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module a relative ``from`` import names (as importlib does)."""
    parts = module_name.split(".")
    if not is_package:
        parts = parts[:-1]  # the containing package
    if level - 1 > len(parts) - 1:
        return "<beyond top-level package>"
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_violations(
    source: str, module_name: str, *, is_package: bool = False, allowed: tuple[str, ...] = ISOLATED
) -> list[str]:
    """Every import in ``source`` that reaches trio or trio_zmq outside ``allowed``.

    ``from X import y`` counts as importing X (which runs X's ``__init__``),
    so ``from .. import _zmtp`` inside ``trio_zmq._strategies`` is a
    violation: it imports ``trio_zmq`` itself, which imports trio.
    """
    found: list[str] = []

    def check(imported: str, lineno: int) -> None:
        if _is_trio(imported):
            found.append(f"{module_name}:{lineno}: imports trio ({imported})")
        elif (imported == "trio_zmq" or imported.startswith("trio_zmq.")) and not _inside(
            imported, allowed
        ):
            found.append(f"{module_name}:{lineno}: imports {imported}")
        elif imported.startswith("<"):
            found.append(f"{module_name}:{lineno}: relative import {imported}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                imported = _resolve(module_name, is_package, node.level, node.module)
            else:
                imported = node.module or ""
            check(imported, node.lineno)
        elif isinstance(node, ast.Call):
            # __import__("trio") / importlib.import_module("trio")
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in {"__import__", "import_module"}:
                arg = node.args[0] if node.args else None
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    check(arg.value, node.lineno)
                else:
                    found.append(f"{module_name}:{node.lineno}: dynamic import")
    return found


def _modules() -> list[tuple[Path, str, bool]]:
    out: list[tuple[Path, str, bool]] = []
    for package in ISOLATED:
        directory = PACKAGE_ROOT.joinpath(*package.split(".")[1:])
        for path in sorted(directory.rglob("*.py")):
            rel = path.relative_to(PACKAGE_ROOT.parent).with_suffix("")
            parts = list(rel.parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            out.append((path, ".".join(parts), is_package))
    return out


MODULES = _modules()


def test_isolated_packages_were_found() -> None:
    names = {name for _, name, _ in MODULES}
    assert {
        "trio_zmq._zmtp",
        "trio_zmq._zmtp._framing",
        "trio_zmq._zmtp._connection",
        "trio_zmq._strategies",
        "trio_zmq._strategies._load_balancer",
    } <= names


@pytest.mark.parametrize(
    ("path", "module_name", "is_package"), MODULES, ids=[m[1] for m in MODULES]
)
def test_no_trio_and_no_upward_imports(path: Path, module_name: str, is_package: bool) -> None:
    source = path.read_text(encoding="utf-8")
    assert import_violations(source, module_name, is_package=is_package) == []


# --- the checker itself catches violations ----------------------------------------

MOD = "trio_zmq._zmtp._framing"
STRAT = "trio_zmq._strategies._fair_queue"


@pytest.mark.parametrize(
    ("source", "module_name", "is_package"),
    [
        ("import trio", MOD, False),
        ("import trio.lowlevel", MOD, False),
        ("import os, trio as t", MOD, False),
        ("from trio import sleep", MOD, False),
        ("from trio.lowlevel import checkpoint", MOD, False),
        ("def f():\n    import trio\n", MOD, False),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import trio\n", MOD, False),
        ("import trio_zmq", MOD, False),
        ("import trio_zmq._socket", MOD, False),
        ("from trio_zmq._pipe import Pipe", MOD, False),
        ("from trio_zmq import Socket", MOD, False),
        ("from .. import _socket", MOD, False),
        ("from .. import _zmtp", STRAT, False),  # runs trio_zmq/__init__
        ("from .._pipe import Pipe", MOD, False),
        ("from ..._x import y", MOD, False),
        ("from .. import x", "trio_zmq._zmtp", True),
        ("from ._peer import x", "trio_zmq._zmtp", False),  # module named _zmtp: sibling
        ("__import__('trio')", MOD, False),
        ("import importlib\nimportlib.import_module('trio.lowlevel')", MOD, False),
        ("import importlib\nimportlib.import_module(name)", MOD, False),
    ],
)
def test_checker_reports_violations(source: str, module_name: str, is_package: bool) -> None:
    assert import_violations(source, module_name, is_package=is_package)


@pytest.mark.parametrize(
    ("source", "module_name", "is_package"),
    [
        ("import attrs\nimport struct\nfrom collections.abc import Sequence", MOD, False),
        ("from ._errors import ProtocolError", MOD, False),
        ("from . import _commands as cmd", MOD, False),
        ("from ._framing import FrameDecoder", "trio_zmq._zmtp", True),
        ("from .._zmtp import SocketType", STRAT, False),
        ("from trio_zmq._zmtp._framing import encode_command", STRAT, False),
        ("import triolet\nimport trio_zmq_extra", MOD, False),
    ],
)
def test_checker_accepts_clean_imports(source: str, module_name: str, is_package: bool) -> None:
    assert import_violations(source, module_name, is_package=is_package) == []


def test_resolve_relative_imports() -> None:
    assert _resolve("trio_zmq._zmtp._framing", False, 1, "_errors") == "trio_zmq._zmtp._errors"
    assert _resolve("trio_zmq._zmtp._framing", False, 2, None) == "trio_zmq"
    assert _resolve("trio_zmq._zmtp._framing", False, 2, "_pipe") == "trio_zmq._pipe"
    assert _resolve("trio_zmq._zmtp", True, 1, "_framing") == "trio_zmq._zmtp._framing"
    assert _resolve("trio_zmq._zmtp", True, 2, None) == "trio_zmq"
