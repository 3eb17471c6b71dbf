"""The read side shared by the CLI, the console and the API: one function per number or listing,
each taking a Scope (scope.py) first, so that who may see what is decided in one place."""
