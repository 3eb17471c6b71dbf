"""The read API (`/api/v1/`): the console's numbers and lists for scripts and BI tools, with tokens."""
