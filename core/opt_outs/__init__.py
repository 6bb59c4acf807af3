"""SMS opt-outs: the words a provider acts on, and recording an opt-out or opt-in with
its audit entry, so nothing is queued for a phone that would only be refused.
"""

__all__ = ["model", "records"]
