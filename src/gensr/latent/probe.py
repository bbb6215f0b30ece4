"""Function-family probe (:func:`probe`)
-------------------------------------
Six classes: three families × input dimension 2 or 5 (:data:`PROBE_CLASSES`). A generated equation's
family is decided from the set of its operator tokens (:func:`function_family`):

* **exp**: contains ``exp`` and none of sin, cos, tan, log;
* **trig**: contains at least one of sin, cos, tan and neither exp nor log;
* **log**: contains ``log`` and none of exp, sin, cos, tan;
* equations with ``tanh``, ``arcsin``, ``arccos`` or ``arctan`` (:data:`EXCLUDED_UNARY`) belong to no
  family; the algebraic operators (add, sub, mul, div, pow, neg, inv, sqrt, pow2, pow3, abs) are neutral.

Sampling (:func:`sample_family_problem`): :func:`gensr.generator.sample_problem` with
``min_vars = max_vars = d`` and the unary weights of the other families' markers and of
:data:`EXCLUDED_UNARY` set to 0 (all other weights as in the generator config), then **rejection** of
equations that contain no marker of their family (e.g. no unary at all). Inputs, constants and point
counts follow the generator config (by default the checkpoint's own, see
:func:`generator_config_from_checkpoint`).

Embeddings: ``gensr`` = the prior mean μ of p(z | data) (data only, no equation); ``untrained`` = the same
on a randomly initialised model of the same shape (``CVAE(model.cfg)`` under ``torch.manual_seed(0)``);
``summary`` = hand-made statistics of (X, y) (:func:`summary_features`). Probes (scikit-learn, both after
standardisation): multinomial logistic regression and 5-nearest-neighbours, each fitted on a stratified 70 %
split and scored on the held-out 30 %, once per seed; accuracy is reported as mean ± std over seeds, for the
6-way task and, collapsing the dimension, for the 3-way family task (chance: 1/6 and 1/3).
:func:`gensr.latent.plots.plot_tsne` draws t-SNE maps of the embeddings coloured by class and by mean y.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gensr._utils import model_device
from gensr.codec import collate
from gensr.generator import GeneratorConfig, Problem, sample_problem
from gensr.grammar import MAX_NODES
from gensr.latent._common import fit_generator
from gensr.model import CVAE

_ENCODE_BATCH = 128  # problems per prior-encoder call in the probe


FAMILIES = ("exp", "trig", "log")
FAMILY_MARKERS: dict[str, frozenset[str]] = {
    "exp": frozenset({"exp"}), "trig": frozenset({"sin", "cos", "tan"}), "log": frozenset({"log"})}
EXCLUDED_UNARY = frozenset({"tanh", "arcsin", "arccos", "arctan"})  # transcendental but in no family
PROBE_DIMS = (2, 5)
PROBE_CLASSES = tuple(f"{f}-{d}d" for f in FAMILIES for d in PROBE_DIMS)
EMBEDDINGS = ("gensr", "untrained", "summary")
PROBES = ("logistic", "knn")
_UNTRAINED_SEED = 0


def function_family(prefix: Sequence[str]) -> str | None:
    """The family (``"exp"``, ``"trig"``, ``"log"``) of a prefix token sequence, or ``None`` (see module doc)."""
    ops = set(prefix)
    if ops & EXCLUDED_UNARY:
        return None
    hits = [f for f in FAMILIES if ops & FAMILY_MARKERS[f]]
    return hits[0] if len(hits) == 1 else None


def _family_config(config: GeneratorConfig, family: str, n_vars: int) -> GeneratorConfig:
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose from {FAMILIES}")
    forbidden = EXCLUDED_UNARY.union(*(FAMILY_MARKERS[f] for f in FAMILIES if f != family))
    weights = tuple((k, 0.0 if k in forbidden else w) for k, w in config.unary_weights)
    if config.max_unary < 1 or not any(w > 0 for k, w in weights if k in FAMILY_MARKERS[family]):
        raise ValueError(f"the generator config never samples a {family} operator "
                         f"({sorted(FAMILY_MARKERS[family])}); the {family} class cannot be built")
    return dataclasses.replace(config.with_dims(n_vars, n_vars), unary_weights=weights)


def sample_family_problem(family: str, n_vars: int, rng: np.random.Generator,
                          config: GeneratorConfig | None = None, *, max_tries: int = 5_000) -> Problem:
    """A generated problem of ``family`` with ``n_vars`` inputs, by restricted weights and rejection."""
    cfg = _family_config(config or GeneratorConfig(), family, n_vars)
    for _ in range(max_tries):
        problem = sample_problem(rng, cfg)
        if function_family(problem.prefix) == family:
            return problem
    raise RuntimeError(f"no {family} equation with {n_vars} variables in {max_tries} draws")


@torch.no_grad()
def prior_embeddings(model: CVAE, problems: Sequence[Problem], *, batch_size: int = _ENCODE_BATCH) -> np.ndarray:
    """(n, latent_dim) prior means μ of p(z | X, y) for each problem (the equation is not seen)."""
    model.eval()
    device = model_device(model)
    out = []
    for s in range(0, len(problems), batch_size):
        batch = collate(problems[s : s + batch_size], MAX_NODES + 2)  # tokens are collated but never read
        mu, _ = model.encode_prior(batch["X"].to(device), batch["y"].to(device), batch["var_mask"].to(device),
                                   batch["point_mask"].to(device))
        out.append(mu.float().cpu().numpy())
    return np.nan_to_num(np.concatenate(out).astype(np.float64))


def summary_features(X: np.ndarray, y: np.ndarray, max_vars: int = 10) -> np.ndarray:
    """A fixed-width vector of simple statistics of one dataset: the non-learned baseline of the probe.

    With ``s = sign(y)·log(1 + |y|)`` (scale-tamed y): mean, std, min, max and the 5/25/50/75/95 %
    quantiles of s; skewness and excess kurtosis of standardised y; the share of y > 0; the number of
    input columns; then for each of ``max_vars`` columns (zeros where absent): a present flag, mean and
    std of x_j, and Pearson and Spearman correlations of x_j with y. Non-finite entries become 0.
    """
    from scipy import stats

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    varied = y.std() > 0
    with np.errstate(all="ignore"):
        s = np.sign(y) * np.log1p(np.abs(y))
        head = [s.mean(), s.std(), s.min(), s.max(), *np.quantile(s, [0.05, 0.25, 0.5, 0.75, 0.95]),
                stats.skew(y) if varied else 0.0, stats.kurtosis(y) if varied else 0.0, np.mean(y > 0),
                X.shape[1]]
        cols = np.zeros((max_vars, 5))
        for j in range(min(X.shape[1], max_vars)):
            x = X[:, j]
            both = varied and x.std() > 0
            pearson = stats.pearsonr(x, y).statistic if both else 0.0
            spear = stats.spearmanr(x, y).statistic if both else 0.0
            cols[j] = (1.0, x.mean(), x.std(), pearson, spear)
    return np.nan_to_num(np.concatenate([np.asarray(head, dtype=np.float64), cols.ravel()]),
                         nan=0.0, posinf=0.0, neginf=0.0)


@dataclass(frozen=True)
class ProbeScore:
    """Accuracy of one probe on one embedding, over seeds (6-way classes and 3-way families)."""

    embedding: str
    probe: str
    accuracy: float
    accuracy_std: float
    family_accuracy: float
    family_accuracy_std: float
    per_seed: tuple[float, ...]


@dataclass(frozen=True)
class ProbeResult:
    """Function-family probe results (see the module docstring).

    Attributes
    ----------
    classes : the class names, :data:`PROBE_CLASSES`; ``labels`` index into it.
    n_per_class, seeds, test_size : the protocol.
    scores : one :class:`ProbeScore` per embedding × probe.
    labels : (n,) class index of each problem.
    mean_y : (n,) mean of each problem's y (for the t-SNE colouring).
    embeddings : name → (n, width) features (``gensr``, ``untrained``, ``summary``).
    """

    classes: tuple[str, ...]
    n_per_class: int
    seeds: tuple[int, ...]
    test_size: float
    scores: tuple[ProbeScore, ...]
    labels: np.ndarray = field(repr=False, compare=False)
    mean_y: np.ndarray = field(repr=False, compare=False)
    embeddings: dict[str, np.ndarray] = field(repr=False, compare=False)

    def score(self, embedding: str, probe: str = "logistic") -> ProbeScore:
        for s in self.scores:
            if s.embedding == embedding and s.probe == probe:
                return s
        raise KeyError(f"no score for embedding {embedding!r} and probe {probe!r}")

    def accuracy(self, embedding: str, probe: str = "logistic") -> float:
        """Mean 6-way held-out accuracy of ``probe`` on ``embedding``."""
        return self.score(embedding, probe).accuracy

    def to_dict(self) -> dict[str, Any]:
        return {"classes": list(self.classes), "n_per_class": self.n_per_class, "seeds": list(self.seeds),
                "test_size": self.test_size, "scores": [dataclasses.asdict(s) for s in self.scores]}

    def format(self) -> str:
        """A plain-text table, as printed by ``gensr probe``."""
        lines = [f"{len(self.classes)} classes ({', '.join(self.classes)}), {self.n_per_class} per class, "
                 f"held-out {self.test_size:.0%}, seeds {list(self.seeds)}; chance 6-way "
                 f"{1 / len(self.classes):.3f}, 3-way {1 / len(FAMILIES):.3f}",
                 f"{'embedding':<10}  {'probe':<8}  {'6-way accuracy':>15}  {'family (3-way)':>15}"]
        for s in self.scores:
            lines.append(f"{s.embedding:<10}  {s.probe:<8}  {s.accuracy:8.3f} ± {s.accuracy_std:.3f}  "
                         f"{s.family_accuracy:8.3f} ± {s.family_accuracy_std:.3f}")
        return "\n".join(lines)


def _make_probe(name: str, n_train: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logistic":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    return make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=min(5, n_train)))


def _score_probes(features: np.ndarray, labels: np.ndarray, seeds: Sequence[int], test_size: float
                  ) -> dict[str, tuple[list[float], list[float]]]:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split

    out: dict[str, tuple[list[float], list[float]]] = {p: ([], []) for p in PROBES}
    fam = labels // len(PROBE_DIMS)
    for seed in seeds:
        tr, te = train_test_split(np.arange(len(labels)), test_size=test_size, stratify=labels,
                                  random_state=int(seed))
        for name in PROBES:
            clf = _make_probe(name, len(tr))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf.fit(features[tr], labels[tr])
                pred = clf.predict(features[te])
            out[name][0].append(float(np.mean(pred == labels[te])))
            out[name][1].append(float(np.mean(pred // len(PROBE_DIMS) == fam[te])))
    return out


def _untrained_like(model: CVAE) -> CVAE:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_UNTRAINED_SEED)
        fresh = CVAE(model.cfg)
    return fresh.to(model_device(model)).eval()


def probe(model: CVAE, *, n_per_class: int = 100, seeds: Sequence[int] = (0, 1, 2),
          rng: int | np.random.Generator | None = 0, generator_config: GeneratorConfig | None = None,
          test_size: float = 0.3) -> ProbeResult:
    """Function-family classification from latents: GenSR's prior mean vs an untrained model vs statistics.

    Parameters
    ----------
    model : a trained :class:`gensr.model.CVAE`.
    n_per_class : problems per class (6 classes; at least 4).
    seeds : train/test splits; accuracy is the mean ± std over them.
    rng : seed or generator for the problems.
    generator_config : the generator to draw problems from (default :class:`GeneratorConfig`), clipped
        to the model's equation length; pass the checkpoint's own with
        :func:`generator_config_from_checkpoint`.
    test_size : held-out share of each split.

    Returns
    -------
    ProbeResult
    """
    if n_per_class < 4:
        raise ValueError(f"n_per_class must be at least 4 (for a stratified split), got {n_per_class}")
    if not seeds:
        raise ValueError("seeds must not be empty")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    gen = np.random.default_rng(rng)
    base = fit_generator(generator_config, model)
    if max(PROBE_DIMS) > model.cfg.max_vars:
        raise ValueError(f"the probe needs {max(PROBE_DIMS)} input columns; the model reads {model.cfg.max_vars}")
    problems: list[Problem] = []
    labels: list[int] = []
    for k, name in enumerate(PROBE_CLASSES):
        family, dim = name.split("-")
        for _ in range(int(n_per_class)):
            problems.append(sample_family_problem(family, int(dim[:-1]), gen, base))
            labels.append(k)
    y_lab = np.asarray(labels)
    embeddings = {
        "gensr": prior_embeddings(model, problems),
        "untrained": prior_embeddings(_untrained_like(model), problems),
        "summary": np.stack([summary_features(p.X, p.y, model.cfg.max_vars) for p in problems]),
    }
    scores = []
    for emb in EMBEDDINGS:
        res = _score_probes(embeddings[emb], y_lab, seeds, test_size)
        for name in PROBES:
            acc, fam = res[name]
            scores.append(ProbeScore(embedding=emb, probe=name, accuracy=float(np.mean(acc)),
                                     accuracy_std=float(np.std(acc)), family_accuracy=float(np.mean(fam)),
                                     family_accuracy_std=float(np.std(fam)), per_seed=tuple(acc)))
    return ProbeResult(classes=PROBE_CLASSES, n_per_class=int(n_per_class), seeds=tuple(int(s) for s in seeds),
                       test_size=float(test_size), scores=tuple(scores), labels=y_lab,
                       mean_y=np.array([float(np.mean(p.y)) for p in problems]), embeddings=embeddings)


