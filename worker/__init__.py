"""ces-worker: intake, surveys, signals, effort, alerts, reports; Celery tasks; HTTP app; CLI."""
