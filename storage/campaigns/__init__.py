"""Campaigns in SQL: the repository behind :mod:`core.campaigns.ports`, with the
selection of targets and the tallies it is built from (inside the feature).
"""

__all__ = ["repository"]
