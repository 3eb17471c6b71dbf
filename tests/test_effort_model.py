"""The learned effort model on synthetic answers with planted drivers (tests/effort_data.py): it
finds what was planted, is refused without enough data or when it is no better than the fixed
weights, and its reasons add up to its score."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from sqlalchemy import select

from ces.worker.db.models import AssessmentRecord, TicketSignalsRecord
from ces.worker.model import store
from ces.worker.model.features import NAMES, REASON_OF, vector
from ces.worker.model.fit import Rules, fit
from tests.effort_data import PLANTED, answered, fixed_index, plant
from tests.support import cli


def fitted(n: int, seed: int, rules: Rules = Rules()):
    rows, low, truth = answered(n, seed)
    return fit([vector(s) for s in rows], low, [fixed_index(s) for s in rows], rules), low, truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_fit_finds_the_planted_drivers_and_nearly_the_generators_own_auc(seed):
    result, low, truth = fitted(3000, seed)
    assert result.adopted, result.why
    coef = dict(zip(NAMES, result.model.coefficients))
    assert all(coef[name] > 0.15 for name in PLANTED)  # every planted driver raises the odds
    unplanted = [name for name in ("assignee_transfers", "repeat_contacts", "customer_messages")]
    assert all(abs(coef[name]) < min(coef[p] for p in PLANTED) for name in unplanted)
    assert coef["group_transfers"] > coef["channel_switch"]  # the order of the strongest and weakest
    best = roc_auc_score(low, truth)
    assert result.learned.auc > best - 0.03 and result.learned.auc > result.fixed.auc


def test_the_threshold_reaches_the_target_precision_on_held_out_answers():
    result, _, _ = fitted(3000, 4)
    assert result.model.high_at is not None and result.precision >= 0.8
    assert 0 < result.model.medium_at < result.model.high_at


def test_too_few_answers_or_too_few_low_ones_keep_the_fixed_weights():
    result, _, _ = fitted(150, 5)
    assert not result.adopted and result.model is None and "too few answers: 150 answers" in result.why
    rows, low, _ = answered(400, 6)
    few_low = [False] * 390 + [True] * 10
    result = fit([vector(s) for s in rows[:400]], few_low, [fixed_index(s) for s in rows[:400]])
    assert not result.adopted and "(10 low)" in result.why


def test_a_model_no_better_than_the_fixed_weights_is_not_adopted():
    """Answers that follow the fixed weights exactly: nothing can beat them."""
    rows, _, _ = answered(800, 7)
    index = [fixed_index(s) for s in rows]
    low = [i >= 50 for i in index]
    result = fit([vector(s) for s in rows], low, index)
    assert not result.adopted and result.why.startswith("not better than the fixed weights")


def test_the_same_answers_give_the_same_model():
    first, _, _ = fitted(1000, 8)
    again, _, _ = fitted(1000, 8)
    assert first.as_dict() == again.as_dict()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=20), min_size=len(NAMES), max_size=len(NAMES)))
def test_the_intercept_and_the_contributions_add_up_to_the_probability(x):
    model = MODEL.model
    z, contributions = model.log_odds(x)
    assert len(contributions) == len(NAMES)
    assert math.isclose(model.intercept + sum(contributions), z, abs_tol=1e-9)
    scaler_z = model.intercept + float(np.dot(model.coefficients, (np.array(x) - model.means) / model.scales))
    assert math.isclose(z, scaler_z, abs_tol=1e-9)
    assert math.isclose(model.probability(x), 1 / (1 + math.exp(-z)))


MODEL, _, _ = fitted(1500, 9)


# --- through the database and the CLI -----------------------------------------------------------
def test_ces_model_fit_adopts_shows_and_keeps_history(config, rt, capsys):
    rows, low, _ = answered(1200, 10)
    now = datetime.now(timezone.utc)
    plant(rt, rows[:1000], low[:1000], sent=now - timedelta(days=3))
    plant(rt, rows[1000:], None, sent=now - timedelta(days=3), first_id=1001)  # silent
    code, out, _ = cli(capsys, "model", "fit")
    assert code == 0 and "1000 answers" in out and out.splitlines()[1].startswith("adopted: better than the fixed")
    assert "re-assessed 200 tickets flagged by their signals alone" in out
    with rt.transaction() as s:
        model = store.current(s)
        silent = s.execute(select(AssessmentRecord, TicketSignalsRecord.data).join(
            TicketSignalsRecord, TicketSignalsRecord.ticket_pk == AssessmentRecord.ticket_pk)).all()
    for record, signals in silent:  # scored by the model: its probability, its thresholds, weighed reasons
        p = model.probability(vector(signals))
        assert record.model_id == model.id and record.effort_index == round(100 * p)
        assert record.level == model.level(p)
        weights = [r["weight"] for r in record.reasons]
        assert weights == sorted(weights, reverse=True) and all(w >= 0.05 or r["code"] in REASON_OF.values()
                                                                 for w, r in zip(weights, record.reasons))
    assert {r.level for r, _ in silent} >= {"high", "low"}
    code, out, _ = cli(capsys, "model", "show", "--format", "json")
    shown = json.loads(out)
    assert shown["in_use"]["adopted"] and shown["in_use"]["answers"] == 1000
    assert shown["profile"]["answered"] == 1000 and shown["profile"]["silent"] == 200
    assert {s["signal"] for s in shown["profile"]["signals"]} >= {"transfers", "reopened"}
    code, out, _ = cli(capsys, "model", "show")
    assert code == 0 and "adopted model:" in out and "group_transfers" in out
    code, out, _ = cli(capsys, "model", "fit", "--since", (now + timedelta(days=1)).date().isoformat())
    assert code == 0 and "not adopted: too few answers: 0 answers" in out
    code, out, _ = cli(capsys, "model", "history", "--format", "json")
    fits = json.loads(out)
    assert [f["adopted"] for f in fits] == [False, True]  # newest first; the adopted one stays in use
    code, out, _ = cli(capsys, "model", "show", "--format", "json")
    assert json.loads(out)["in_use"]["id"] == fits[1]["id"]


def test_the_report_by_signal_puts_the_adjusted_effect_beside_the_raw_cost(config, rt, capsys):
    rows, low, _ = answered(1000, 12)
    plant(rt, rows, low, sent=datetime.now(timezone.utc) - timedelta(days=3))
    code, out, _ = cli(capsys, "report", "--by", "signal")
    assert code == 0 and "odds_ratio: none until a model is adopted" in out
    assert cli(capsys, "model", "fit")[0] == 0
    with rt.transaction() as s:
        model, record = store.current(s), store.adopted_record(s)
    code, out, _ = cli(capsys, "report", "--by", "signal", "--format", "json")
    result = json.loads(out)
    by = {(r["signal"], r["value"]): r for r in result["rows"]}
    assert result["model_id"] == model.id
    for key in (("transfers", "0"), ("reopened", "no"), ("channel_switch", "no")):  # the reference: no cost, no effect
        assert by[key]["cost"] is None and by[key]["odds_ratio"] is None
    # A switch is one binary feature: its effect is exactly the odds ratio of its coefficient per unit.
    j = model.features.index("channel_switch")
    assert by[("channel_switch", "yes")]["odds_ratio"] == round(math.exp(model.coefficients[j] / model.scales[j]), 3)
    assert 1.2 < by[("channel_switch", "yes")]["odds_ratio"] < 3.5  # planted: e^0.6 = 1.8
    assert by[("reopened", "yes")]["odds_ratio"] > 2 and by[("transfers", "2+")]["odds_ratio"] > 3
    yes, no = by[("reopened", "yes")], by[("reopened", "no")]
    share = yes["responses"] / (yes["responses"] + no["responses"])
    assert math.isclose(yes["cost"], share * (no["ces"] - yes["ces"]), abs_tol=2e-3)
    assert yes["cost_low"] < yes["cost"] < yes["cost_high"] and yes["cost"] > 0
    effects = record.metrics["effects"]  # the console's drivers, kept with the fit
    assert effects["reopens"] == yes["odds_ratio"] and effects["transfers"] > 1.5
    assert "slow_first_reply" not in effects  # no answered ticket had it: no effect to tell
    code, out, _ = cli(capsys, "report", "--by", "signal", "--format", "csv")
    assert out.splitlines()[0].endswith("high_effort_share,cost,cost_low,cost_high,odds_ratio")
    code, out, _ = cli(capsys, "report", "--by", "signal")
    assert f"the adjusted effect by model {model.id}" in out and "odds_ratio" in out.splitlines()[2]


def test_a_bad_since_is_one_line(config, capsys):
    code, _, err = cli(capsys, "model", "fit", "--since", "last week")
    assert code == 2 and err.strip().startswith("ces: error:") and len(err.strip().splitlines()) == 1


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 10_000))
def test_the_reasons_weights_are_their_features_share_of_the_log_odds(seed):
    """baseline + every contribution = the log-odds; each reason's weight is the sum of its features'
    contributions; the index is the probability × 100; a silent ticket's level is the model's."""
    import random

    from ces.config.models import EffortSettings
    from ces.worker.model.features import FEATURES
    from ces.worker.signals.effort import assessment
    from tests.effort_data import signals as draw

    model = MODEL.model
    s = draw(random.Random(seed))
    s.update(slow_first_reply=s["first_reply_seconds"] > s["reply_target_seconds"], long_wait=False)
    x = vector(s)
    p, baseline, contributions = model.explain(x)
    z, _ = model.log_odds(x)
    assert math.isclose(baseline + sum(contributions.values()), z, abs_tol=1e-9)
    level, index, reasons, basis, _ = assessment(s, None, EffortSettings(), window_days=7, many_messages=6,
                                                 model=model)
    assert (level, index, basis) == (model.level(p), round(100 * p), "signals")
    code_of = {f.name: f.reason for f in FEATURES}
    for code, _, weight in reasons:
        mine = [c for name, c in contributions.items() if code_of.get(name) == code or name == code]
        assert math.isclose(weight, round(sum(mine), 3), abs_tol=1e-9)
