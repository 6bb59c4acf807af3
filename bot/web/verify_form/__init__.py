"""The holder's own way in: ``/verify``, the web form of the port company's guide.

Pass number, ID number and mobile phone, then the guide's confirmation (R4), then the
6-digit code from the SMS (or the SMS's link), then done. Twilio carries no replies
from Taiwanese phones, so for a holder whose campaign code expired, whose phone on file
changed, or whom no campaign reached, this form is the only door they can open alone.

It is a channel: it reads the three fields with the same value types as the chats
(:mod:`core.values`) and asks :class:`core.verification.service.VerificationService`
for everything that decides (R1-R4, the cool-down, one code per combination per
24 hours, five wrong codes). Why the service and not the conversation engine: the
engine reads one field per turn and answers in sentences, while the form posts three
fields at once and must tie each error to its field; driving the engine would take
three transactions per submit and turn its replies back into field errors. The state
the steps need is the engine's own :class:`core.conversation.state.Conversation`,
stored the same way, under the browser session's key.
"""
