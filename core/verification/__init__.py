"""Verification: the guide's rules for requesting a code, checking it and confirming a
link; who may type a code and how many wrong codes each participant may type; the
SMS words the port company sets, and what they cost; what became of it when it did not arrive.
"""

__all__ = ["delivery", "participants", "service", "sms_preview", "sms_text", "wording"]
