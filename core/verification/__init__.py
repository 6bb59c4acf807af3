"""Verification: the guide's rules for requesting a code, checking it and confirming a
link; the SMS words the port company sets, and what they cost; what became of an SMS
that did not arrive.
"""

__all__ = ["delivery", "service", "sms_preview", "sms_text", "wording"]
