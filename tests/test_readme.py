"""The README's two commands are the contract: CI runs exactly the test command, and the examples work."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    assert len(blocks) >= 2, "README must open with the install-and-run and the test commands"
    test_command = blocks[1]
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_command in ci


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_formula_example_runs_and_shows_its_outputs():
    """Each line of the formula example runs; a line ending in ``# <repr>`` must print exactly that."""
    from numpy import array

    (code,) = [b for b in _python_blocks() if "import parse" in b]
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


def test_readme_estimator_example_runs():
    """The estimator example with the shipped model, on a shorter budget than the README's 30 s, then the
    example of weights, seeds, fit_formula and the exports in the same session."""
    (code,) = [b for b in _python_blocks() if "max_time=30" in b]
    namespace: dict = {"print": lambda *args, **kwargs: None}
    exec(compile(code.replace("max_time=30", "max_time=5"), "README.md", "exec"), namespace)
    assert namespace["model"].equations_.shape[0] >= 1
    (more,) = [b for b in _python_blocks() if "sample_weight" in b]
    assert "fit_formula" in more and "pytorch()" in more and "numpy()" in more
    exec(compile(more, "README.md", "exec"), namespace)
    assert namespace["fit"].r2 > 0.999999 and callable(namespace["f"])


def test_readme_units_example_runs():
    """The units example with the shipped model: one dimensionless group, and a consistent chosen equation."""
    (code,) = [b for b in _python_blocks() if "X_units" in b]
    namespace: dict = {"np": __import__("numpy"), "GenSRRegressor": __import__("gensr").GenSRRegressor}
    exec(compile(code, "README.md", "exec"), namespace)
    model = namespace["model"]
    assert (model.pi_groups_, model.y_reference_) == (["x1/x2"], "x0")
    assert model.equations_["consistent"].iloc[model.best_index_]


def test_no_weights_tracked_except_the_default():
    import subprocess

    out = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        pytest.skip("not a git checkout (e.g. an sdist): no tracked files to check")
    weights = [f for f in out.stdout.split() if f.endswith((".pt", ".pth", ".ckpt", ".bin", ".safetensors"))]
    assert set(weights) <= {"src/gensr/pretrained/default/model.safetensors"}, weights


def test_docstrings_name_only_files_in_the_repository():
    """Docstrings and help texts point to README, docs/, MODEL.md and BENCHMARKS.md, never to notes outside."""
    outside = re.compile(r"GENSR_METHOD|STYLE\.md|shared/reference|\.\./shared")
    docs = re.compile(r"docs/([\w./-]+\.md)")
    for path in sorted((ROOT / "src" / "gensr").rglob("*.py")):
        text = path.read_text()
        assert not outside.search(text), f"{path.relative_to(ROOT)} names a file outside the repository"
        for name in docs.findall(text):
            assert (ROOT / "docs" / name).is_file(), f"{path.relative_to(ROOT)} points to missing docs/{name}"


def test_readme_pysr_example_runs():
    """The PySR user's example with the shipped model, on a short budget."""
    import numpy as np

    (code,) = [b for b in _python_blocks() if "pysr_like" in b]
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(200, 3))
    namespace: dict = {"np": np, "X": X, "y": X[:, 0] * X[:, 1] / X[:, 2], "GenSRRegressor": None}
    from gensr import GenSRRegressor

    namespace["GenSRRegressor"] = GenSRRegressor
    exec(compile(code.replace("max_time=20", "max_time=6"), "README.md", "exec"), namespace)
    assert namespace["both"].predict(X).shape == (200, 2)
    assert r"\toprule" in namespace["table"]
