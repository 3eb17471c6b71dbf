"""How long `ces model fit`'s learning takes on N answers (default 200,000; the goal is ≤ 30 s),
beside a floor measured in the same run: one plain scikit-learn fit of the same standardised data (the
least a fit can cost: cross-validation makes six). The features come from tests/effort_data.py's generator (planted drivers).

    .venv/bin/python bench/model_fit.py [--answers 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from ces.worker.model.features import vector  # noqa: E402
from ces.worker.model.fit import fit  # noqa: E402
from tests.effort_data import answered, fixed_index  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--answers", type=int, default=200_000)
    n = parser.parse_args().answers
    rows, low, _ = answered(n, seed=1)
    features, index = [vector(s) for s in rows], [fixed_index(s) for s in rows]
    started = time.perf_counter()
    X = StandardScaler().fit_transform(np.asarray(features))
    LogisticRegression(max_iter=1000).fit(X, np.asarray(low, dtype=int))
    floor = time.perf_counter() - started
    started = time.perf_counter()
    result = fit(features, low, index)
    took = time.perf_counter() - started
    print(f"{n:,} answers ({sum(low):,} low): fit with 5-fold cross-validation "
          f"{took:.1f} s (goal ≤ 30 s); floor, one plain fit: {floor:.2f} s; ratio {took / floor:.1f}×; "
          f"held-out AUC {result.learned.auc:.3f} against the fixed weights' {result.fixed.auc:.3f}")


if __name__ == "__main__":
    main()
