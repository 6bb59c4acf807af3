"""Verification: the guide's rules for requesting a code, checking it and confirming a
link; who may type a code and how many wrong codes each participant may type; the
verification SMS and what it costs; what became of it when it did not arrive.
"""

__all__ = ["delivery", "participants", "service", "sms_preview", "sms_text"]
