"""How accurate is the noise floor (gensr.noise.noise_floor)? Known noise on a smooth law of 1–8 inputs.

    python benchmarks/noise_floor_accuracy.py

y = (∏ x_i)^(1/d)·sin(x0) + x_{d−1}²/3 on U(1, 5)^d, plus Gaussian noise of std γ·RMS(y). Prints, per input
count, rows and γ, the true σ², the estimate ± its standard error, and whether the floor counts as resolved
(σ̂² > 3·se), as markdown.
"""

from __future__ import annotations

import numpy as np

from gensr.noise import noise_floor


def main() -> None:
    rng = np.random.default_rng(0)
    print("| inputs | rows | γ | true σ² | estimate ± se | resolved |")
    print("|---|---|---|---|---|---|")
    for d in (1, 2, 3, 5, 8):
        for n in (300, 1000, 10_000):
            X = rng.uniform(1, 5, size=(n, d))
            f = np.prod(X, axis=1) ** (1 / d) * np.sin(X[:, 0]) + X[:, -1] ** 2 / 3
            for gamma in (0.0, 0.01, 0.1):
                s2 = (gamma * np.sqrt(np.mean(f**2))) ** 2
                est = noise_floor(X, f + rng.normal(0, np.sqrt(s2), n))
                print(f"| {d} | {n} | {gamma:g} | {s2:.3g} | {est.mse:.3g} ± {est.se:.2g} | "
                      f"{'yes' if est.mse > 3 * est.se else 'no'} |")


if __name__ == "__main__":
    main()
