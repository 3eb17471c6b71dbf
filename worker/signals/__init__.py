"""The signals stage: a solved ticket's history collected from the helpdesk (collect.py), the
signals read from it (definitions.py), the effort assessment built on them (effort.py), and the
rebuild that recomputes them all from the stored histories (rebuild.py)."""
