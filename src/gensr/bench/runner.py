"""Run a benchmark sweep: every (suite, problem, noise, seed, method) once, resumable, in parallel.

Protocols (``docs/protocols.md`` §1):

- ``"gensr"``, the neural papers' protocol: one run with split seed 14423 (GenSR's), no row cap unless
  ``max_train`` is given (then rows are drawn without replacement), no scaling.
- ``"srbench"``: SRBench v2.0: seeds from its list (``n_seeds`` of them), training rows capped at 10,000 drawn
  **with replacement**; black-box data are standardised (X and y) for fitting and predictions mapped back.

Both: a 75/25 ``train_test_split`` with the trial seed; noise N(0, (γ·RMS(y_train))²) added to the training
targets only; test R² on clean targets. Every task is fitted in a worker (a process pool, one problem per
core, or a dask cluster) that loads its own data, and each finished row is appended to ``results.csv`` at
once, so a crash loses nothing and a rerun skips what is done.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import json
import math
import os
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gensr._utils import environment
from gensr.bench.data import FEYNMAN_ROWS
from gensr.bench.methods import METHODS, resolve
from gensr.bench.suites import SUITES, list_problems, load_problem

PROTOCOLS = ("gensr", "srbench")
GENSR_SEED = 14423
SRBENCH_SEEDS = (23654, 15795, 860, 5390, 16850, 29910, 4426, 21962, 14423, 28020)
SRBENCH_MAX_TRAIN = 10_000
COLUMNS = ("run_id", "protocol", "suite", "dataset", "method", "noise", "seed", "time_limit", "n_train", "n_test",
           "n_features", "r2_train", "r2_test", "r2_test_clipped", "solved_099", "solved_0999", "symbolic",
           "complexity", "complexity_simplified", "wall_time", "evaluations", "model", "truth", "error",
           "finished_at", "host", "gensr_version", "answer_time", "stop")
KEY = ("protocol", "suite", "dataset", "method", "noise", "seed")


@dataclass(frozen=True)
class BenchConfig:
    """One sweep. Every field is also a ``gensr bench run`` option (``--time-limit``, ``--noise``, …)."""

    suites: tuple[str, ...] = ("feynman",)
    methods: tuple[str, ...] = ("gensr",)
    protocol: str = "gensr"
    noise: tuple[float, ...] = (0.0,)  # γ: noise std = γ·RMS(y_train), training targets only
    seeds: tuple[int, ...] | None = None  # None: the protocol's (GenSR's 14423, or SRBench's first n_seeds)
    n_seeds: int = 10  # SRBench trials when seeds is None
    time_limit: float = 60.0  # wall-clock seconds per fit, for every method
    max_train: int | None = None  # training-row cap; None: the protocol's (SRBench 10,000; GenSR none); 0: none
    feynman_rows: int = FEYNMAN_ROWS  # rows sampled per Feynman equation (PMLB's files have 100,000)
    problems: tuple[str, ...] | None = None  # only these names (of any suite); None: all
    subset: int | None = None  # a random subset of this many problems per suite (drawn with subset_seed)
    subset_seed: int = 0
    workers: int = 1  # parallel fits (processes; each gets `threads` threads)
    threads: int = 1  # threads per fit (torch, pyoperon)
    options: dict[str, dict[str, Any]] | None = None  # per-method keyword options over the registry's, e.g.
    #   {"gensr": {"checkpoint": "runs/x/checkpoint", "max_generations": 3}}
    hard_limit_s: float | None = None  # a fit still running after this is killed; None: 3 x time_limit + 120
    symbolic_timeout: float = 60.0  # seconds for the sympy symbolic check and simplified complexity

    def __post_init__(self) -> None:
        for name, allowed in (("suites", SUITES), ("methods", METHODS)):
            # a method may also be an import path "package.module:function" with fit_gensr's signature
            unknown = [v for v in getattr(self, name) if v not in allowed and not (name == "methods" and ":" in v)]
            if unknown or not getattr(self, name):
                raise ValueError(f"{name}={list(getattr(self, name))}: choose one or more of {list(allowed)}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol={self.protocol!r}; choose from {PROTOCOLS}")
        if any(not (math.isfinite(g) and g >= 0) for g in self.noise) or not self.noise:
            raise ValueError(f"noise levels must be finite and >= 0, got {self.noise}")
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {self.time_limit}")
        for name in ("workers", "threads", "n_seeds", "feynman_rows"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.subset is not None and self.subset < 1:
            raise ValueError(f"subset must be >= 1, got {self.subset}")

    def hard_limit(self) -> float:
        """Seconds after which a fit's process is killed (an error row; the sweep goes on)."""
        return self.hard_limit_s if self.hard_limit_s is not None else 3 * self.time_limit + 120

    def trial_seeds(self) -> tuple[int, ...]:
        if self.seeds is not None:
            return tuple(self.seeds)
        return (GENSR_SEED,) if self.protocol == "gensr" else SRBENCH_SEEDS[: self.n_seeds]

    def train_cap(self) -> tuple[int | None, bool]:
        """(cap, with_replacement) of the training rows."""
        if self.max_train == 0:
            return None, False
        if self.protocol == "srbench":
            return (self.max_train or SRBENCH_MAX_TRAIN), True
        return self.max_train, False


@dataclass(frozen=True)
class Task:
    """One fit: everything a worker needs, small enough to send to a process or a dask worker."""

    suite: str
    dataset: str
    method: str
    noise: float
    seed: int
    data_dir: str
    config: BenchConfig
    run_id: str

    @property
    def key(self) -> tuple[str, ...]:
        return _key(self.config.protocol, self.suite, self.dataset, self.method, self.noise, self.seed)


def _key(protocol: Any, suite: Any, dataset: Any, method: Any, noise: Any, seed: Any) -> tuple[str, ...]:
    return (str(protocol), str(suite), str(dataset), str(method), f"{float(noise):g}", str(int(float(seed))))


def make_tasks(config: BenchConfig, data_dir: str | Path, run_id: str) -> list[Task]:
    """Every task of the sweep, problem by problem (methods side by side), in a fixed order."""
    tasks = []
    for suite in config.suites:
        names = list_problems(suite, data_dir)
        if config.problems is not None:
            names = [n for n in names if n in set(config.problems)]
        if config.subset is not None and config.subset < len(names):
            pick = np.random.default_rng(config.subset_seed).choice(len(names), config.subset, replace=False)
            names = [names[i] for i in sorted(pick)]
        for name in names:
            for noise in config.noise:
                for seed in config.trial_seeds():
                    tasks.extend(Task(suite, name, m, float(noise), int(seed), str(data_dir), config, run_id)
                                 for m in config.methods)
    if config.problems is not None and not tasks:
        raise ValueError(f"none of the problems {list(config.problems)} is in the suites {list(config.suites)}")
    return tasks


def split(problem: Any, config: BenchConfig, noise: float, seed: int
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/test arrays of one trial: 75/25 split, the protocol's row cap, then noise on y_train only."""
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(problem.X, problem.y, train_size=0.75, test_size=0.25,
                                              random_state=seed)
    rng = np.random.default_rng(seed)
    cap, replace = config.train_cap()
    if cap is not None and len(y_tr) > cap:
        rows = rng.choice(len(y_tr), cap, replace=replace)
        X_tr, y_tr = X_tr[rows], y_tr[rows]
    if noise > 0:
        y_tr = y_tr + rng.normal(0.0, noise * math.sqrt(float(np.mean(y_tr**2))), len(y_tr))
    return X_tr, X_te, y_tr, y_te


def run_task(task: Task) -> dict[str, Any]:
    """Fit and score one task; never raises: a failure is a row with ``error`` set and R² clipped to 0."""
    from gensr._utils import r2_score as r2
    from gensr._version import __version__
    from gensr.bench.child import FitFailed, request_fit
    from gensr.bench.metrics import SYMBOLIC_MIN_R2, simplified_complexity, symbolic_solution
    from gensr.bench.parsing import parse_model

    cfg = task.config
    row: dict[str, Any] = {c: "" for c in COLUMNS}
    row.update(run_id=task.run_id, protocol=cfg.protocol, suite=task.suite, dataset=task.dataset,
               method=task.method, noise=task.noise, seed=task.seed, time_limit=cfg.time_limit,
               r2_train=math.nan, r2_test=math.nan, r2_test_clipped=0.0, solved_099=False, solved_0999=False,
               complexity=math.nan, complexity_simplified=math.nan, wall_time=math.nan,
               host=socket.gethostname(), gensr_version=__version__)
    try:
        problem = load_problem(task.suite, task.dataset, task.data_dir, feynman_rows=cfg.feynman_rows)
        row["truth"] = problem.truth or ""
        scale = cfg.protocol == "srbench" and problem.truth is None
        X_tr, X_te, y_tr, y_te = split(problem, cfg, task.noise, task.seed)
        row.update(n_train=len(y_tr), n_test=len(y_te), n_features=X_tr.shape[1])
        x_mu, x_sd, y_mu, y_sd = 0.0, 1.0, 0.0, 1.0
        if scale:  # SRBench black-box: standardise X and y for the fit, map predictions back
            x_mu, x_sd = X_tr.mean(0), np.where(X_tr.std(0) > 0, X_tr.std(0), 1.0)
            y_mu, y_sd = float(y_tr.mean()), float(y_tr.std()) or 1.0
        method = resolve(task.method)
        options = {**method.options, **(cfg.options or {}).get(task.method, {})}
        if options.pop("units", False):  # "Feynman with units": the method is told what each column measures
            options.update(X_units=None if problem.feature_units is None else list(problem.feature_units),
                           y_units=problem.target_units)
        # the fit runs in a child process that is killed at a hard limit well past the budget, so one
        # runaway fit cannot stall a sweep, under any executor
        out = request_fit(method.fit, (X_tr - x_mu) / x_sd, (y_tr - y_mu) / y_sd,
                          [(X_tr - x_mu) / x_sd, (X_te - x_mu) / x_sd], time_limit=cfg.time_limit, seed=task.seed,
                          threads=cfg.threads, options=options, hard_limit=cfg.hard_limit())
        row["wall_time"] = out["wall_time"]
        with np.errstate(all="ignore"):
            p_tr, p_te = (p * y_sd + y_mu for p in out["predictions"])
        row["r2_train"], row["r2_test"] = r2(y_tr, p_tr), r2(y_te, p_te)
        row["r2_test_clipped"] = max(row["r2_test"], 0.0)
        row["solved_099"], row["solved_0999"] = row["r2_test"] > 0.99, row["r2_test"] > 0.999
        model, info = out["model"], out["info"]
        # when the finally chosen equation first appeared, and why the fit stopped (methods that report them)
        row["answer_time"] = info.get("answer_time", math.nan)
        row["stop"] = ",".join(info.get("stop", []))
        row.update(complexity=out["complexity"],
                   evaluations=out["evaluations"] if out["evaluations"] is not None else "")
        notes = [str(info["model_error"])] if "model_error" in info else []
        if model is not None:
            row["model"] = str(model)
            row["complexity_simplified"] = simplified_complexity(model, seconds=cfg.symbolic_timeout)
        if problem.truth is not None:
            solved, note = False, ""
            if model is not None and row["r2_test"] > SYMBOLIC_MIN_R2:  # truth is never standardised (scale)
                solved, note = symbolic_solution(model, parse_model(problem.truth), seconds=cfg.symbolic_timeout)
            row["symbolic"] = solved
            notes += [note] if note else []
        row["error"] = "; ".join(notes)
    except Exception as exc:  # a failed fit is a result, not a crash of the sweep
        text = str(exc) if isinstance(exc, FitFailed) else f"{type(exc).__name__}: {exc}"
        row["error"] = text.replace("\n", " ")[:500]
    row["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return row


EXECUTION_FIELDS = ("workers", "threads")  # how a sweep runs, not what it measures: free to change on resume


def _sweep_part(config: dict[str, Any]) -> dict[str, Any]:
    """The fields of a stored configuration that define the sweep (compared on resume), in today's schema.

    Execution settings are left out. A file written by an older version lacks newer fields (their defaults
    apply, as they did then) and may name gensr's model in a top-level ``checkpoint``, now a gensr option.
    """
    current = {**json.loads(json.dumps(dataclasses.asdict(BenchConfig()))), **config}
    checkpoint = current.pop("checkpoint", None)
    if checkpoint is not None:
        options = {name: dict(opts) for name, opts in (current.get("options") or {}).items()}
        options.setdefault("gensr", {}).setdefault("checkpoint", checkpoint)
        current["options"] = options
    return {k: v for k, v in current.items() if k not in EXECUTION_FIELDS}


# ---- results file ------------------------------------------------------------------------------------
def finished_keys(path: Path, *, retry_errors: bool = False) -> set[tuple[str, ...]]:
    """Keys of the rows already in ``path`` (rows whose ``error`` is a failure are dropped if retrying)."""
    if not path.exists():
        return set()
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in KEY if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} is not a gensr results file (no columns {missing}); choose another --out")
        return {_key(*(r[c] for c in KEY)) for r in reader
                if not (retry_errors and r.get("error") and r.get("r2_test") in ("", "nan"))}


class ResultsFile:
    """Appends rows to a CSV, writing the header once and flushing every row to disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self._fh = path.open("a", newline="")
        self._writer = csv.DictWriter(self._fh, fieldnames=COLUMNS, extrasaction="ignore")
        if new:
            self._writer.writeheader()
            self._flush()

    def _flush(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def write(self, row: dict[str, Any]) -> None:
        self._writer.writerow(row)
        self._flush()

    def close(self) -> None:
        self._fh.close()


# ---- execution ---------------------------------------------------------------------------------------
def _init_worker(threads: int) -> None:
    """Worker initializer: pin the math libraries to ``threads`` (the worker scores results with numpy and
    sympy; the fits themselves run in child processes that set their own threads, :mod:`gensr.bench.child`)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)


class _InlineExecutor(Executor):
    """Runs a task in this process when it is submitted: one worker, nothing pickled, easy to debug."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except Exception as exc:
            fut.set_exception(exc)
        return fut


@contextlib.contextmanager
def _executor(dask: str | None, workers: int, threads: int) -> Iterator[tuple[Executor, int]]:
    """The executor of a sweep and how many tasks to keep in flight: in-process, a process pool or dask."""
    if dask is None and workers == 1:
        yield _InlineExecutor(), 1
        return
    if dask is None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        ctx = multiprocessing.get_context("spawn")  # no torch/OpenMP state inherited through fork
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)) as pool:
            yield pool, 2 * workers
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--dask/--scheduler need dask.distributed: pip install 'gensr[distributed]'") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True) if dask == "local" else None
    client = Client(cluster if cluster is not None else dask)
    try:
        client.run(_init_worker, threads)
        in_flight = 2 * max(sum(client.nthreads().values()), 1)
        with client.get_executor(pure=False) as executor:
            yield executor, in_flight
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _results(tasks: list[Task], executor: Executor, in_flight: int) -> Iterator[dict[str, Any]]:
    """Rows as their fits finish; at most ``in_flight`` tasks are submitted at a time (so Ctrl-C stops soon)."""
    todo = iter(tasks)
    pending: set[Future] = set()
    try:
        while True:
            while len(pending) < in_flight and (task := next(todo, None)) is not None:
                pending.add(executor.submit(run_task, task))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
    finally:
        for fut in pending:
            fut.cancel()


def run(config: BenchConfig, data_dir: str | Path, out: str | Path, *, dask: str | None = None,
        retry_errors: bool = False, progress: bool = True,
        on_row: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Run the sweep into the run directory ``out``; returns the path of ``results.csv``.

    ``out`` gets ``config.json`` (the sweep and the data directory), ``env.json`` (versions, machine) and
    ``results.csv``. Rows already in ``results.csv`` are skipped, so the same command resumes a stopped
    sweep. ``dask``: None for a local process pool (``workers`` processes, or in-process when 1),
    ``"local"`` for a dask LocalCluster, or a scheduler address such as ``"tcp://host:8786"``; all three
    are one ``concurrent.futures`` path. Every fit runs in a child process killed at the hard limit
    (:mod:`gensr.bench.child`), so the limit holds under every executor and a worker is never lost.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data directory {data_dir} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "config.json"
    payload = {"config": dataclasses.asdict(config), "data_dir": str(data_dir.resolve())}
    if config_path.exists():
        old = json.loads(config_path.read_text())
        if _sweep_part(old.get("config", {})) != _sweep_part(json.loads(json.dumps(payload["config"]))):
            raise ValueError(f"{out} holds a sweep with another configuration; resume it with the same settings "
                             "or choose another --out")
    config_path.write_text(json.dumps(payload, indent=2))
    (out / "env.json").write_text(json.dumps(environment(), indent=2))
    results = out / "results.csv"
    done = finished_keys(results, retry_errors=retry_errors)
    tasks = [t for t in make_tasks(config, data_dir, out.name) if t.key not in done]
    writer = ResultsFile(results)
    bar = tqdm(total=len(tasks), desc=f"bench {out.name}", unit="fit", disable=not progress, dynamic_ncols=True)
    try:
        with _executor(dask, config.workers, config.threads) as (executor, in_flight):
            for row in _results(tasks, executor, in_flight):
                writer.write(row)
                if on_row is not None:
                    on_row(row)
                bar.set_postfix_str(f"{row['dataset']}/{row['method']} R2={float(row['r2_test']):.4f}")
                bar.update()
    finally:
        bar.close()
        writer.close()
    return results
