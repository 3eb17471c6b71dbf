"""`ces demo`: the real service against a simulated Zendesk and a local mail sink."""
