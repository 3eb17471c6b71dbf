"""Follow-up alerts: the right people hear about a hard interaction, once, and close the loop."""
