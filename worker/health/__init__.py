"""Health that speaks up (README "Health"): counters every process bumps in Redis (counters.py),
plain rules that turn them into ok / warning / failing with the cause and the fix (rules.py), the
report the admin page and `ces status` show (report.py), the probes and the admins' notices that a
worker job runs every [health] probe_seconds (check.py, notify.py)."""
