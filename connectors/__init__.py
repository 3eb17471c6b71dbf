"""Helpdesk connectors: one package per helpdesk behind one small interface (base.Connector).

The core never imports a provider: connectors are found by kind through the `ces.connectors`
entry points (registry.py).
"""
