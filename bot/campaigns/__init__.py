"""Campaigns in ``portpass serve``: the dispatcher that sends them.

The admin CLI plans and starts campaigns (``bot/cli/campaign.py``); this package is the
serve side, registered in the app like the outbox worker.
"""
