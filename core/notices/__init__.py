"""Notices: gate events (a pass suspended, abnormal entries) told to the holder's
verified phone and chats, listed to operators, and summed up in their daily digest.
"""

__all__ = ["csv_file", "digest", "events", "records", "service", "texts"]
