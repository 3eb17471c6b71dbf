"""Fitting the effort model, and the rule that decides whether it replaces the fixed weights.

A regularised logistic regression of "low answer" on the features (features.py), standardised so
that a coefficient is the change in log-odds for one standard deviation. Stratified k-fold
cross-validation scores it and, on the same folds, today's fixed weights (their index / 100 read as
a probability): the model is adopted only with enough answers and when its held-out AUC is higher.
Everything is seeded: the same answers give the same model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, precision_recall_curve, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from ces.worker.model.features import NAMES
from ces.worker.model.scoring import Model

SEED = 20261205


@dataclass(frozen=True)
class Rules:
    min_answers: int = 200
    min_low: int = 20
    folds: int = 5
    target_precision: float = 0.8
    regularization: float = 1.0  # scikit-learn's C: smaller is stronger


@dataclass(frozen=True)
class Metrics:
    auc: float | None
    brier: float
    calibration: list[tuple[float, float]]  # (mean predicted, observed share of low answers) per bin


@dataclass
class Fit:
    model: Model | None
    adopted: bool
    why: str
    answers: int
    low: int
    learned: Metrics | None = None
    fixed: Metrics | None = None
    precision: float | None = None  # held out, at high_at
    recall: float | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def _metrics(y: np.ndarray, p: np.ndarray) -> Metrics:
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    return Metrics(auc=auc, brier=float(brier_score_loss(y, p)),
                   calibration=[(round(float(a), 4), round(float(b), 4)) for a, b in zip(predicted, observed)])


def _classifier(rules: Rules) -> LogisticRegression:
    return LogisticRegression(C=rules.regularization, max_iter=1000)


def held_out(X: np.ndarray, y: np.ndarray, rules: Rules) -> np.ndarray:
    """Each answer's probability from a model that never saw it (stratified folds, seeded)."""
    folds = StratifiedKFold(n_splits=min(rules.folds, int(y.sum()), int(len(y) - y.sum())), shuffle=True,
                            random_state=SEED)
    out = np.zeros(len(y))
    for train, test in folds.split(X, y):
        scaler = StandardScaler().fit(X[train])
        classifier = _classifier(rules).fit(scaler.transform(X[train]), y[train])
        out[test] = classifier.predict_proba(scaler.transform(X[test]))[:, 1]
    return out


def threshold(y: np.ndarray, p: np.ndarray, target: float) -> tuple[float | None, float | None, float | None]:
    """The cut at which the held-out precision reaches the target with the most recall:
    (threshold, precision, recall), or Nones when no cut reaches it.

    Of the cuts with that recall, the highest (a lower one only adds tickets that did not answer
    low). The threshold is then put halfway down to the next lower held-out probability: it splits
    the held-out answers the same way, but tickets often come in groups with the same signals, and
    a cut exactly at one group's probability would take or leave the whole group on the final
    model's slightly different probabilities (the end-to-end test found silent easy tickets flagged
    that way)."""
    precision, recall, cuts = precision_recall_curve(y, p)
    reaching = [i for i in range(len(cuts)) if precision[i] >= target]
    if not reaching:
        return None, None, None
    best = max(reaching, key=lambda i: (recall[i], cuts[i]))
    below = p[p < cuts[best]]
    cut = (cuts[best] + below.max()) / 2 if below.size else cuts[best]
    return float(cut), float(precision[best]), float(recall[best])


def _final(X: np.ndarray, y: np.ndarray, rules: Rules, high_at: float | None) -> Model:
    scaler = StandardScaler().fit(X)
    classifier = _classifier(rules).fit(scaler.transform(X), y)
    scales = [float(s) if s > 0 else 1.0 for s in scaler.scale_]
    return Model(features=list(NAMES), coefficients=[float(c) for c in classifier.coef_[0]],
                 intercept=float(classifier.intercept_[0]), means=[float(m) for m in scaler.mean_], scales=scales,
                 high_at=high_at, medium_at=min(float(y.mean()), high_at if high_at is not None else 1.0))


def fit(features: list[list[float]], low: list[bool], fixed_index: list[float], rules: Rules = Rules()) -> Fit:
    """Fit, compare with the fixed weights on the same folds, and decide (Fit.adopted, Fit.why)."""
    X, y = np.asarray(features, dtype=float), np.asarray(low, dtype=int)
    n, n_low = len(y), int(y.sum())
    if n < rules.min_answers or n_low < rules.min_low:
        return Fit(None, False, f"too few answers: {n} answers ({n_low} low); it needs {rules.min_answers} "
                                f"answers and {rules.min_low} low ones", n, n_low)
    if n_low == n:
        return Fit(None, False, "every answer is low: nothing to tell them apart", n, n_low)
    p = held_out(X, y, rules)
    learned = _metrics(y, p)
    fixed = _metrics(y, np.clip(np.asarray(fixed_index, dtype=float) / 100, 0, 1))
    high_at, precision, recall = threshold(y, p, rules.target_precision)
    model = _final(X, y, rules, high_at)
    result = Fit(model, False, "", n, n_low, learned, fixed, precision, recall)
    if fixed.auc is not None and (learned.auc or 0) <= fixed.auc:
        result.why = f"not better than the fixed weights: held-out AUC {learned.auc:.3f} against {fixed.auc:.3f}"
    else:
        result.adopted = True
        result.why = f"better than the fixed weights: held-out AUC {learned.auc:.3f} against " + (
            f"{fixed.auc:.3f}" if fixed.auc is not None else "none (they score every ticket alike)")
    return result
