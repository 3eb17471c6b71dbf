"""The Celery app on the Redis broker, configured for at-least-once delivery; the database
claims (claims.py) make every task idempotent, so a redelivered message does nothing twice."""

from __future__ import annotations

from celery import Celery

from ces.config import Settings


def make_celery(settings: Settings) -> Celery:
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
    from ces.worker.tasks import register_tasks

    register_tasks(app)
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
