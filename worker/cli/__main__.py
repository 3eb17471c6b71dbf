"""`python -m ces.worker.cli`: what `ces` runs (the supervisor starts its children this way)."""

from ces.worker.cli.app import main

main()
