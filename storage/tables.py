"""The schema, as SQLAlchemy Core tables: one ``MetaData`` for SQLite and PostgreSQL.

Migrations (``storage/migrations``) create these tables; this module is what the
repositories and the importer query. ``tests/integration`` checks that the two agree.

Values are stored normalised (pass numbers ``KHPS113-000043``, ID numbers upper case,
phones E.164), so repositories rebuild core values with their constructors, not
``parse``. The status of a pass (R7) is not a column: it is derived from
``passes.verified_phone`` and ``persons.phone`` (see :mod:`storage.status`).

Why one module: it is the whole schema on one ``MetaData``, which the migrations are
compared with as a whole; each table's columns are read where its repository is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that goes in as an aware datetime and comes out as an aware UTC one.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored
    as naive UTC text (fixed width, so text order is time order) and given its UTC
    zone back when read. A naive datetime is refused: guessing its zone is how
    24-hour code windows silently become 16- or 32-hour ones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


persons = Table(
    "persons",
    metadata,
    Column("id_no", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("phone", Text, nullable=True),  # E.164; NULL: no phone on file (R6)
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "phone"),
)

passes = Table(
    "passes",
    metadata,
    Column("pass_no", Text, primary_key=True),
    # No foreign key to persons: deleting a person makes the pass pending (R7).
    Column("id_no", Text, nullable=False, index=True),
    Column("company", Text, nullable=False, index=True),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date, nullable=False),
    Column("verified_phone", Text, nullable=True),
    Column("verified_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

verification_requests = Table(
    "verification_requests",
    metadata,
    Column("id", Text, primary_key=True),
    Column("pass_no", Text, nullable=False),
    Column("id_no", Text, nullable=False),
    Column("phone", Text, nullable=False),
    Column("code_hash", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("origin", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("failed_attempts", Integer, nullable=False, server_default=text("0")),
    Column("update_person_phone", Boolean, nullable=False, server_default=text("false")),
    Column("operator_id", Text, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    # Who asked (the participant key: "telegram:12345", "sms:+886…", "operator:<id>"):
    # only they, or an SMS from ``phone``, may type the code.
    Column("requester_key", Text, nullable=True),
    # The person's phone on file when the code was sent (E.164): verifying re-checks it
    # against the registry. NULL only for rows older than 0003.
    Column("phone_on_file", Text, nullable=True),
    # JSON object: participant key -> wrong codes it typed for this request; a key with 0
    # joined it (core.verification.participants). Wrong codes lock the participant, not
    # the request. Small: a request admits a handful of participants.
    Column("participants", Text, nullable=False, server_default=text("'{}'")),
    # R2 lock lookup, and "requests sent to this phone" for an inbound SMS code.
    Index(None, "pass_no", "id_no", "phone", "created_at"),
    Index(None, "phone", "created_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("to_phone", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("request_id", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    # pending | sending | sent | failed | delivered | undelivered | skipped (opted out)
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("claimed_by", Text, nullable=True),
    # Unique but nullable: both backends allow many NULLs in a unique index.
    Column("provider_sid", Text, nullable=True),
    Column("provider_status", Text, nullable=True),
    Column("error_code", Text, nullable=True),
    Column("error_message", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    # 0 a holder's own request or reply, 1 notices, 2 campaign traffic: claimed in
    # priority order, then oldest first (storage.outbox.queue.OutboxQueue.claim).
    Column("priority", Integer, nullable=False, server_default=text("0")),
    # When the message is no longer worth sending (a verification SMS: its code's
    # expiry); transient provider errors are retried until then.
    Column("expires_at", UtcDateTime, nullable=True),
    # The full body, AES-GCM encrypted (storage.outbox.sealing); ``body`` holds a redacted
    # copy. NULL once the provider accepted the message or it failed.
    Column("sealed", LargeBinary, nullable=True),
    # Who to tell when the SMS finally fails ("telegram:<chat>", "operator:<id>"),
    # cleared once told (notified_at).
    Column("notify_to", Text, nullable=True),
    Column("notified_at", UtcDateTime, nullable=True),
    Index(None, "state", "next_attempt_at"),
    Index(None, "state", "priority", "next_attempt_at"),
    Index(None, "state", "notify_to"),
    Index(None, "request_id"),
    Index(None, "provider_sid", unique=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("detail", Text, nullable=False),  # JSON object of masked strings
)

lookup_failures = Table(
    "lookup_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index(None, "key", "at"),
)

client_hits = Table(
    "client_hits",
    metadata,
    # Requests to a public page (the link page) per client address and fixed window
    # (epoch seconds // window length): one row per address a minute, shared by every
    # serve process (bot.web.client_limits); pruned by housekeeping within the hour.
    Column("key", Text, primary_key=True),
    Column("slot", BigInteger, primary_key=True),
    Column("hits", Integer, nullable=False),
    Index(None, "slot"),
)

send_rates = Table(
    "send_rates",
    metadata,
    # A send rate shared by every serve process on PostgreSQL (storage.outbox.send_rate):
    # the moment (epoch seconds on the database's clock) from which the next send may be
    # scheduled. One row per rate ("sms": the provider account's sms.max_per_second).
    Column("name", Text, primary_key=True),
    Column("next_at", Float, nullable=False),
)

conversations = Table(
    "conversations",
    metadata,
    # "sms:+886912345678", "telegram:12345": one conversation per participant.
    Column("key", Text, primary_key=True),
    Column("state", Text, nullable=False),  # JSON of core.conversation.state.Conversation
    Column("updated_at", UtcDateTime, nullable=False),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    # Twilio retries a webhook and Telegram re-sends an update: (channel, id) is seen
    # once, and a retry gets the first answer again instead of acting twice.
    Column("channel", Text, primary_key=True),
    Column("message_id", Text, primary_key=True),
    Column("reply", Text, nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Index(None, "received_at"),
)

operators = Table(
    "operators",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("company", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=text("false")),
    Column("telegram_user_id", Text, nullable=True, unique=True),
    # One-time link code, as a keyed hash, valid until link_code_expires_at.
    Column("link_code_hash", Text, nullable=True, unique=True),
    Column("link_code_expires_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
)

sms_opt_outs = Table(
    "sms_opt_outs",
    metadata,
    # One row per phone (E.164) that asked for no SMS, by an opt-out word or the
    # provider's opt-out error; an opt-in word deletes it. Joinable with persons.phone
    # and outbox.to_phone, so a selection can leave opted-out phones out in SQL.
    Column("phone", Text, primary_key=True),
    Column("opted_out_at", UtcDateTime, nullable=False),
    Column("source", Text, nullable=False),  # keyword | provider
    Column("reason", Text, nullable=False),  # the word (STOP) or the error code (21610)
)

send_questions = Table(
    "send_questions",
    metadata,
    # An operator's pending /send question (core.operators.questions): the button holds
    # a random handle, this row (found by the handle's keyed hash) holds what it means.
    # Deleted when answered, and by housekeeping once it can no longer be answered.
    Column("handle_hash", Text, primary_key=True),
    Column("operator_id", Text, nullable=False),
    Column("pass_no", Text, nullable=False),
    Column("phone", Text, nullable=False),  # E.164
    Column("new_number", Boolean, nullable=False),
    Column("asked_at", UtcDateTime, nullable=False),
    Index(None, "asked_at"),
)

phone_languages = Table(
    "phone_languages",
    metadata,
    # The language each phone (E.164) last used with the bot: its SMS conversation's
    # language switch, or a holder's code request or verification on any channel. The
    # SMS that phone gets unasked (campaigns, reminders, notices, operator sends) are in
    # it (core.ports.PhoneLanguageRepository); a phone never seen gets the default.
    Column("phone", Text, primary_key=True),
    Column("language", Text, nullable=False),
    Column("used_at", UtcDateTime, nullable=False),
)

# --- notices: gate events told to verified phones, and the operators' digest ---

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # The gate system's own id: the same event sent twice is stored once.
    Column("event_id", Text, nullable=False, unique=True),
    Column("pass_no", Text, nullable=False),
    Column("company", Text, nullable=False),  # the pass's company when received
    Column("kind", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("detail", Text, nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("source", Text, nullable=False),  # api | csv
    Column("reach", Text, nullable=False),  # sms | unreachable
    Column("reason", Text, nullable=True),  # unverified | pending | opted_out
    Column("telegram_chats", Integer, nullable=False, server_default=text("0")),
    Column("outbox_id", Integer, nullable=True),  # the SMS, when texted
    Index(None, "received_at"),
    Index(None, "company", "received_at"),
)

notice_messages = Table(
    "notice_messages",
    metadata,
    # Telegram messages for `portpass serve` to send: a notice to a chat that verified
    # the pass, or an operator's daily digest (notice_id NULL). Claimed with a lease,
    # like the outbox, so two instances never send one row at once.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notice_id", Integer, nullable=True),
    Column("chat_id", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("state", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("lease_until", UtcDateTime, nullable=True),
    Column("claimed_by", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "state", "next_attempt_at"),
)

notice_digests = Table(
    "notice_digests",
    metadata,
    # One row per operator and Taipei day, inserted in the transaction that queues the
    # digest: a second instance, or a restart, finds it and sends nothing more.
    Column("day", Date, primary_key=True),
    Column("operator_id", Text, primary_key=True),
    Column("since", UtcDateTime, nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("notices", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# --- campaigns (migration 0007) ------------------------------------------------

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    # planned | running | paused | cancelled | done
    Column("state", Text, nullable=False),
    # JSON: {"companies": [...], "states": [...], "pass_prefixes": [...]}
    Column("selection", Text, nullable=False),
    Column("window_start", Integer, nullable=False),  # minutes after midnight, Taipei
    Column("window_end", Integer, nullable=False),
    Column("rate", Float, nullable=False),  # SMS per second
    Column("remind_after_seconds", Integer, nullable=True),
    Column("reminders", Integer, nullable=False, server_default=text("0")),
    Column("valid_on", Date, nullable=False),  # the Taipei day passes were valid on
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    # The pacing of every instance that sends it: see core.campaigns.model.Pacer.
    Column("paced_until", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
)

campaign_targets = Table(
    "campaign_targets",
    metadata,
    Column("campaign_id", Integer, primary_key=True),
    Column("pass_no", Text, primary_key=True),
    Column("company", Text, nullable=False),
    # excluded (skipped when planned) | queued | sent | skipped (when its turn came)
    Column("state", Text, nullable=False),
    Column("reason", Text, nullable=True),  # core.campaigns.model.SkipReason
    # When it next needs an SMS: its first, or a reminder; NULL: never again.
    Column("due_at", UtcDateTime, nullable=True),
    Column("request_id", Text, nullable=True),  # the request its last SMS carried
    Column("outbox_id", Integer, nullable=True),  # its last SMS
    Column("sends", Integer, nullable=False, server_default=text("0")),
    Column("first_sent_at", UtcDateTime, nullable=True),
    Column("last_sent_at", UtcDateTime, nullable=True),
    Index(None, "campaign_id", "due_at", "pass_no"),
)
