"""The console: the web face for support teams, behind sign-in (README, "Console").

Sign-in and who may see what live here: accounts and one-time links (users), passwords (Argon2 in
a bounded pool), sessions, CSRF, throttling, the second factor, single sign-on; `security` holds
the route class every console router uses (CSRF on every POST, the strict CSP on every answer).
What a page shows comes from worker/queries, filtered by the caller's Scope.
"""
