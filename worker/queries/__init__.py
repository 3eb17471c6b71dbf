"""The read side shared by the CLI, the console and the API: one function per number or listing.
Those that read surveys, tickets, follow-ups or rollups take a Scope (scope.py) first, so that who
may see what is decided in one place; the listings of events and connectors (an admin's, from the
CLI) take none, and formats.py only prints."""
