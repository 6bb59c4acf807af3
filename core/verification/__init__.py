"""Verification: the guide's rules for requesting a code, checking it and confirming a
link; the verification SMS and what it costs; what became of it when it did not arrive.
"""

__all__ = ["delivery", "service", "sms_preview", "sms_text"]
