"""The conversation: one state machine (``state + input -> state + replies``) that SMS
and every chat channel drive, so a holder can start on one channel and finish on another.

``state`` is what channels build inputs from and render replies of; ``engine`` runs a turn.
"""

__all__ = ["engine", "state"]
