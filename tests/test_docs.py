"""The documentation site: every page's Python runs (one namespace per page, in order), and the results the
pages show are the results the code gives. CI also builds the site with warnings as errors."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md"))


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)


GENERATIONS = 2  # the pages' fits, bound by a count so that the tests never depend on the clock


def _run(page: Path) -> dict:
    """Run a page's blocks; a fit bound by ``max_time`` is bound by :data:`GENERATIONS` instead (under a 60 s
    ceiling that never binds), except in deterministic examples (their own counts bound them)."""
    namespace: dict = {"print": lambda *args, **kwargs: None}
    for code in _blocks(page):
        if "deterministic=True" not in code and "max_generations" not in code:
            code = re.sub(r"max_time=\d+(\.\d*)?", f"max_time=60, max_generations={GENERATIONS}", code)
        exec(compile(code, str(page.relative_to(ROOT)), "exec"), namespace)
    return namespace


CODE_PAGES = [p for p in PAGES if _blocks(p)]


def test_the_pages_hold_code_to_run():
    assert len(CODE_PAGES) >= 7, [str(p) for p in CODE_PAGES]


@pytest.mark.parametrize("page", CODE_PAGES, ids=lambda p: str(p.relative_to(ROOT / "docs")))
def test_page_code_runs(page):
    ns = _run(page)
    name = str(page.relative_to(ROOT / "docs"))
    if name == "index.md":
        assert len(ns["model"].equations_) >= 1
    elif name == "guide/units.md":  # one dimensionless group, and a consistent chosen equation
        model = ns["model"]
        assert (model.pi_groups_, model.y_reference_) == (["x1/x2"], "x0")
        assert model.equations_["consistent"].iloc[model.best_index_]
    elif name == "guide/pysr.md":
        assert ns["both"].predict(ns["X"]).shape == (200, 2)
        assert r"\toprule" in ns["table"]
    elif name == "guide/formulas.md":
        assert ns["fit"].r2 > 0.999999 and callable(ns["f"])
    elif name == "guide/noise.md":
        assert 0 <= ns["held_out"].best_index_ < len(ns["held_out"].equations_)


def test_formula_example_shows_its_outputs():
    """Each line of the formula example runs; a line ending in ``# <repr>`` must print exactly that."""
    from numpy import array

    (code,) = [b for b in _blocks(ROOT / "docs" / "guide" / "formulas.md") if "import parse" in b]
    namespace: dict = {"array": array}
    checked = 0
    for line in code.splitlines():
        stmt, _, shown = line.partition("  # ")
        if shown and not stmt.lstrip().startswith(("from", "import")) and "=" not in stmt.split("(")[0]:
            assert repr(eval(stmt, namespace)) == shown.strip(), line
            checked += 1
        else:
            exec(stmt, namespace)
    assert checked >= 2
