"""Write the example tables used by the README (run from the repository root).

``ideal_gas.csv``: pressure of an ideal gas, P = n·R·T/V with R = 8.314 J/(mol·K), 200 rows, no noise
(inputs rounded to 6 decimals first, P computed from them).
"""

from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    rng = np.random.default_rng(2026)
    n = rng.uniform(0.5, 5.0, 200).round(6)  # mol
    T = rng.uniform(250.0, 450.0, 200).round(6)  # K
    V = rng.uniform(0.01, 0.1, 200).round(6)  # m^3
    P = 8.314 * n * T / V  # Pa
    frame = pd.DataFrame({"n": n, "T": T, "V": V, "P": P})
    frame.to_csv(Path(__file__).with_name("ideal_gas.csv"), index=False)


if __name__ == "__main__":
    main()
