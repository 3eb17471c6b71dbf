"""/metrics (Prometheus): webhooks by connector and outcome (counted where they arrive), and, read
at scrape time so that every process's work shows, surveys and alerts by state, the intake's queue
lag, the broker's queue length, and helpdesk API calls by service and outcome. Labels never carry
personal data: connector ids, kinds, states and outcomes only."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import func, select

from ces.worker.db.models import Alert, EventState, Survey, WebhookEvent
from ces.worker.db.types import UTCDateTime

if TYPE_CHECKING:  # the runtime builds its HTTP client's observer here
    from ces.worker.runtime import Runtime

API_KEY = "ces:metrics:api_calls"
LAST_ERROR_KEY = "ces:api_last_error"  # one field per helpdesk account (a connector's rate key)


def api_observer(rt: Runtime):
    """Counts a process's helpdesk API calls in Redis, so that /metrics shows every worker's, and
    keeps the last failure of each helpdesk account with its time (`ces connectors list`)."""
    client = redis.Redis.from_url(rt.settings.broker_url, socket_timeout=1, socket_connect_timeout=1)
    key = f"{rt.settings.broker_prefix}{API_KEY}"
    errors_key = f"{rt.settings.broker_prefix}{LAST_ERROR_KEY}"

    def observe(service: str, outcome: str, rate_key: str | None = None, error: Exception | None = None) -> None:
        rt.health.api_call(rate_key, outcome, error)  # the connector's health card (worker/health)
        rt.health.count_later(key, f"{service}|{outcome}")  # written with the health counters, once a second
        if error is not None and rate_key:
            # The detail names the call and the host, never the URL or a secret.
            detail = getattr(error, "detail", None) or type(error).__name__
            client.hset(errors_key, rate_key, json.dumps({"error": detail[:300], "at": rt.now().isoformat()}))

    return observe


def last_api_error(rt: Runtime, rate_key: str) -> tuple[str, datetime] | None:
    """The last failed call to a helpdesk account, and when (None if none, or Redis is down)."""
    try:
        client = redis.Redis.from_url(rt.settings.broker_url, socket_timeout=1, socket_connect_timeout=1)
        raw = client.hget(f"{rt.settings.broker_prefix}{LAST_ERROR_KEY}", rate_key)
    except redis.RedisError:
        return None
    if not raw:
        return None
    record = json.loads(raw)
    return record["error"], datetime.fromisoformat(record["at"])


class StateCollector(Collector):
    def __init__(self, rt: Runtime):
        self.rt = rt

    def collect(self):
        rt = self.rt
        surveys = GaugeMetricFamily("ces_surveys", "Surveys by state", labels=["state"])
        alerts = GaugeMetricFamily("ces_alerts", "Alert deliveries by state", labels=["state"])
        pending = GaugeMetricFamily("ces_events_pending", "Stored webhook events not yet processed")
        lag = GaugeMetricFamily("ces_queue_lag_seconds", "Age of the oldest unprocessed webhook event")
        try:
            with rt.engine.connect() as conn:
                for state, count in conn.execute(select(Survey.state, func.count()).group_by(Survey.state)):
                    surveys.add_metric([state], count)
                for state, count in conn.execute(select(Alert.state, func.count()).group_by(Alert.state)):
                    alerts.add_metric([state], count)
                count, oldest = conn.execute(select(func.count(), func.min(WebhookEvent.received_at)).where(
                    WebhookEvent.state.in_(EventState.PENDING))).one()
            pending.add_metric([], count)
            if oldest is not None:
                oldest = UTCDateTime().process_result_value(oldest, rt.engine.dialect)
                lag.add_metric([], max(0.0, (rt.now() - oldest).total_seconds()))
            else:
                lag.add_metric([], 0.0)
        except Exception:
            pass  # the database is down: /readyz says so; /metrics still answers
        yield from (surveys, alerts, pending, lag)
        broker = GaugeMetricFamily("ces_broker_queue_length", "Messages waiting in the Celery queue")
        api = CounterMetricFamily("ces_helpdesk_api_calls", "Helpdesk and route API calls", labels=["service", "outcome"])
        try:
            rt.health.flush()  # this process's calls counted since the last flush
            client = redis.Redis.from_url(rt.settings.broker_url, socket_timeout=1, socket_connect_timeout=1)
            broker.add_metric([], client.llen(f"{rt.settings.broker_prefix}{rt.settings.queue}"))
            for field, value in client.hgetall(f"{rt.settings.broker_prefix}{API_KEY}").items():
                service, _, outcome = field.decode().partition("|")
                api.add_metric([service, outcome], int(value))
        except redis.RedisError:
            pass
        yield broker
        yield api


_registered: list[StateCollector] = []


def register(rt: Runtime) -> None:
    """One collector per process, pointed at the latest runtime (tests build several)."""
    if _registered:
        _registered[0].rt = rt
        return
    collector = StateCollector(rt)
    REGISTRY.register(collector)
    _registered.append(collector)
