"""The HTTP app: webhook intake, health, metrics, and the customer's survey pages."""
