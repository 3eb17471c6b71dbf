"""The Celery app on the Redis broker, configured for at-least-once delivery; the database
claims (claims.py) make every task idempotent, so a redelivered message does nothing twice."""

from __future__ import annotations

from celery import Celery

from ces.config import Settings


def _tolerate_torn_down_connections() -> None:
    """After a broker outage kombu's Redis transport may try to build a client from a connection
    it has already released (while restoring unacknowledged messages, or closing a channel) and
    raises AttributeError, which the Celery worker takes for unrecoverable and exits (kombu#582).
    Said as a connection error instead, it is handled like the outage it is. Nothing is lost
    either way: the database rows are the truth and the scheduler re-enqueues what was in flight."""
    import redis
    from kombu.transport import redis as transport

    if getattr(transport.Channel._connparams, "_ces", False):
        return
    original = transport.Channel._connparams

    def _connparams(self, *args, **kwargs):
        if self.connection is None or getattr(self.connection, "client", None) is None:
            raise redis.exceptions.ConnectionError("the broker connection is closed")
        return original(self, *args, **kwargs)

    _connparams._ces = True
    transport.Channel._connparams = _connparams


def make_celery(settings: Settings) -> Celery:
    _tolerate_torn_down_connections()
    app = Celery("ces", broker=settings.broker_url, set_as_current=False)
    transport = {
        "visibility_timeout": settings.worker.visibility_timeout_seconds,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
    }
    if settings.broker_prefix:
        transport["global_keyprefix"] = settings.broker_prefix
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.queue,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        broker_pool_limit=10,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    return app


_apps: dict[tuple, Celery] = {}


def celery_for(settings: Settings) -> Celery:
    key = (settings.broker_url, settings.broker_prefix, settings.queue)
    if key not in _apps:
        _apps[key] = make_celery(settings)
    return _apps[key]


def send(settings: Settings, task: str, row_id: int | list[int]) -> None:
    """Publish without Celery's own publish retries: the scheduler is our retry."""
    celery_for(settings).send_task(task, args=[row_id], queue=settings.queue, retry=False)
