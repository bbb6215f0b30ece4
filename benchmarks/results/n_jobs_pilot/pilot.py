"""The one-core pilot behind the odd islands' schedule (BENCHMARKS.md §17): the default schedule against the
terms move every 2 generations and the edits every generation, on 8 budget-bound Feynman problems at 30 s.

Run from the repository root: ``taskset -c 0 python benchmarks/results/n_jobs_pilot/pilot.py``.
"""

from gensr.bench.runner import BenchConfig, run

TWO = "gensr.bench.methods:fit_gensr"
PROBLEMS = ("feynman_I_37_4", "feynman_test_11", "feynman_I_15_3x", "feynman_III_14_14", "feynman_I_41_16",
            "feynman_I_6_2b", "feynman_test_3", "feynman_test_10")

if __name__ == "__main__":
    config = BenchConfig(suites=("feynman",), methods=("gensr", TWO), time_limit=30, max_train=10000,
                         problems=PROBLEMS, options={TWO: {"search": {"terms.every": 2, "edits.every": 1}}},
                         symbolic_timeout=20.0)
    run(config, "../shared/benchdata", "benchmarks/results/n_jobs_pilot", progress=False)
