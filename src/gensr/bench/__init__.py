"""Benchmark harness: SRBench-style sweeps of gensr and peer methods, and their report.

``gensr bench run`` (:func:`gensr.bench.runner.run`) fits every problem of the chosen suites with every
method under the same time limit, splits and machine, appending one row per fit to ``results.csv``;
``gensr bench report`` (:func:`gensr.bench.report.report`) turns results into markdown tables beside the
published reference numbers, and PNG plots. Data are read from a directory given by the user
(``--data-dir``); nothing is downloaded.
"""
