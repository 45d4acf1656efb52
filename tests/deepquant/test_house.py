"""House rules every package keeps, read from the source.

One home per default: a setting's default is written in ``shared/config.py``
alone. A function default that repeats a setting's value
(``covariance="ledoit_wolf"``, ``top_n=1``) is a second home for it: when the
config's default changes, the function called without the argument silently
keeps the old one. And every function fits on a screen.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest

from shared import choices
from shared.config import Settings
from tests.paths import ROOT

PACKAGES = ("deepquant", "shared", "trainer", "inferer", "backtest", "sweep")
#: The two homes: the settings and the option value sets.
HOMES = {Path("shared/config.py"), Path("shared/choices.py")}
#: Defaults that switch a rule off, so that a function called without them
#: does nothing extra: never the production value of a rule that is on.
NEUTRAL = {
    ("max_weight", 1.0),  # no cap
    ("no_trade_band", 0.0),  # every trade made
    ("trade_fraction", 1.0),  # the whole way to the target
    ("keep_margin", 0),  # no hysteresis
    ("stride", 1),  # every day's window
}
#: Parameters named like a setting that mean something else.
HOMONYMS = {
    "seed": "a function's own random stream, reproducible by default",
    "source": "the name of the data in messages, not [data] source",
    "benchmark": "the Sharpe ratio a PSR is measured against, not the benchmark ticker",
    "name": "what an array is called in an error message, not a setting's value",
}


def _choice_values() -> set[str]:
    values: set[str] = set()
    for name in dir(choices):
        alias = getattr(choices, name)
        if get_origin(alias) is Literal:
            values |= {v for v in get_args(alias) if isinstance(v, str)}
    return values


def _setting_names() -> set[str]:
    return {
        field
        for section in Settings.model_fields.values()
        for field in section.annotation.model_fields  # type: ignore[union-attr]
    }


def _defaults(tree: ast.AST) -> list[tuple[str, str, ast.expr]]:
    """(function, parameter, default) of every parameter with a default."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        a = node.args
        positional = a.posonlyargs + a.args
        pairs = list(zip(positional[len(positional) - len(a.defaults) :], a.defaults, strict=True))
        pairs += [
            (arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None
        ]
        found += [(node.name, arg.arg, default) for arg, default in pairs]
    return found


def _modules() -> list[Path]:
    paths = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return [p for p in paths if p.relative_to(ROOT) not in HOMES]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_function_repeats_a_settings_default(path: Path) -> None:
    values, names = _choice_values(), _setting_names()
    bad = []
    for fn, param, default in _defaults(ast.parse(path.read_text())):
        if not isinstance(default, ast.Constant) or default.value is None:
            continue
        if isinstance(default.value, str) and default.value in values and param not in HOMONYMS:
            bad.append(f"{fn}({param}={default.value!r}): an option value as a default")
        elif (
            param in names
            and param not in HOMONYMS
            and (param, default.value) not in NEUTRAL
            and not isinstance(default.value, bool)
        ):
            bad.append(f"{fn}({param}={default.value!r}): the default of setting {param!r}")
    assert not bad, "; ".join(bad)


def test_the_check_sees_a_repeated_default() -> None:
    tree = ast.parse("def f(x, *, covariance='ledoit_wolf', top_n=1, other=3): pass")
    found = {(p, d.value) for _, p, d in _defaults(tree)}  # type: ignore[attr-defined]
    assert ("covariance", "ledoit_wolf") in found and ("top_n", 1) in found
    assert "ledoit_wolf" in _choice_values() and "top_n" in _setting_names()


#: Lines of code (the docstring aside) a function may have: it fits on a screen.
MAX_LINES = 60


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_function_fits_on_a_screen(path: Path) -> None:
    long = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        first = node.body[0]
        doc = isinstance(first, ast.Expr) and isinstance(
            getattr(first, "value", None), ast.Constant
        )
        skip = first.end_lineno - first.lineno + 1 if doc and first.end_lineno else 0
        lines = (node.end_lineno or node.lineno) - node.lineno + 1 - skip
        if lines > MAX_LINES:
            long.append(f"{node.name} ({lines} lines)")
    assert not long, ", ".join(long)
