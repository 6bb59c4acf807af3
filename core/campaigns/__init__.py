"""Campaigns: the verification SMS sent to every holder who has not verified yet, paced
within a daily window, with reminders; planned, started, paused and reported by an admin.

Other features and the channels use the modules named in ``__all__``; the rest (the
dispatch step and the ports it needs) is this feature's own business.
"""

__all__ = ["model", "options", "progress", "schedule", "service"]
