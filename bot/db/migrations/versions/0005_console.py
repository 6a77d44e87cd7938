"""Console: staff users/sessions/login attempts, conversation review tables, human takeover.

Revision ID: 0005_console
Revises: 0004_outreach
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_console"
down_revision: str | None = "0004_outreach"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("ui_language", sa.String(2), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("password_changed_at", TS, nullable=False),
        sa.Column("last_login_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_users"),
        sa.UniqueConstraint("email", name="uq_console_users_email"),
        sa.CheckConstraint("role IN ('agent', 'marketer', 'admin')", name="ck_console_users_role"),
        sa.CheckConstraint("ui_language IN ('tr', 'en')", name="ck_console_users_ui_language"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.Column("user_agent", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_console_sessions_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["console_users.id"], name="fk_console_sessions_user_id_console_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])

    op.create_table(
        "console_login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("ip", sa.String(45), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_console_login_attempts"),
    )
    op.create_index(
        "ix_console_login_attempts_email_ip_attempted_at",
        "console_login_attempts",
        ["email", "ip", "attempted_at"],
    )
    op.create_index("ix_console_login_attempts_ip_attempted_at", "console_login_attempts", ["ip", "attempted_at"])

    op.create_table(
        "tracker_sync_state",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("pending_gaps", sa.Text(), nullable=False),
        sa.Column("domain_synced_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_tracker_sync_state"),
    )

    op.create_table(
        "conversation_summaries",
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("first_event_at", TS, nullable=False),
        sa.Column("last_event_at", TS, nullable=False),
        sa.Column("turns", sa.Integer(), nullable=False),
        sa.Column("bot_turns", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("intents", sa.Text(), nullable=False),
        sa.Column("has_fallback", sa.Boolean(), nullable=False),
        sa.Column("fallback_turns", sa.Integer(), nullable=False),
        sa.Column("low_confidence_turns", sa.Integer(), nullable=False),
        sa.Column("min_confidence", sa.Float(), nullable=False),
        sa.Column("has_ticket", sa.Boolean(), nullable=False),
        sa.Column("has_complaint", sa.Boolean(), nullable=False),
        sa.Column("has_handover", sa.Boolean(), nullable=False),
        sa.Column("last_csat", sa.Integer(), nullable=True),
        sa.Column("last_nps", sa.Integer(), nullable=True),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("last_user_text", sa.String(200), nullable=True),
        sa.Column("last_user_event_id", sa.BigInteger(), nullable=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name="pk_conversation_summaries"),
    )
    for name, columns in (
        ("ix_conversation_summaries_last_event_at", ["last_event_at", "sender_id"]),
        ("ix_conversation_summaries_first_event_at", ["first_event_at", "sender_id"]),
        ("ix_conversation_summaries_turns", ["turns", "sender_id"]),
        ("ix_conversation_summaries_min_confidence", ["min_confidence", "sender_id"]),
        ("ix_conversation_summaries_channel", ["channel", "last_event_at"]),
        ("ix_conversation_summaries_language", ["language", "last_event_at"]),
        ("ix_conversation_summaries_customer_id", ["customer_id"]),
    ):
        op.create_index(name, "conversation_summaries", columns)
    op.create_index(
        "ix_conversation_summaries_unreviewed",
        "conversation_summaries",
        ["last_event_at"],
        sqlite_where=sa.text("reviewed = 0"),
        postgresql_where=sa.text("reviewed = false"),
    )
    op.create_index(
        "ix_conversation_summaries_fallback",
        "conversation_summaries",
        ["last_event_at"],
        sqlite_where=sa.text("has_fallback = 1"),
        postgresql_where=sa.text("has_fallback = true"),
    )
    for score in ("csat", "nps"):
        op.create_index(
            f"ix_conversation_summaries_{score}",
            "conversation_summaries",
            [f"last_{score}", "last_event_at"],
            sqlite_where=sa.text(f"last_{score} IS NOT NULL"),
            postgresql_where=sa.text(f"last_{score} IS NOT NULL"),
        )
    if _pg():
        # Full-text search over customer messages; SQLite (embedded profile, small volumes) scans with LIKE.
        op.execute(
            "CREATE INDEX ix_conversation_summaries_search ON conversation_summaries "
            "USING gin (to_tsvector('simple', search_text))"
        )

    op.create_table(
        "conversation_intents",
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("intent", sa.String(255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", "intent", name="pk_conversation_intents"),
    )
    op.create_index("ix_conversation_intents_intent", "conversation_intents", ["intent", "sender_id"])

    op.create_table(
        "conversation_tags",
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("tag", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("sender_id", "tag", name="pk_conversation_tags"),
    )
    op.create_index("ix_conversation_tags_tag", "conversation_tags", ["tag", "sender_id"])

    op.create_table(
        "conversation_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_notes"),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["console_users.id"],
            name="fk_conversation_notes_author_id_console_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_conversation_notes_sender_id", "conversation_notes", ["sender_id"])

    op.create_table(
        "review_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(32), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("intent_name", sa.String(255), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("turn_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_flags"),
        sa.UniqueConstraint("reason", "ref", name="uq_review_flags_reason_ref"),
        sa.CheckConstraint("reason IN ('fallback', 'low_confidence', 'low_score')", name="ck_review_flags_reason"),
        sa.CheckConstraint("status IN ('new', 'reviewed', 'applied')", name="ck_review_flags_status"),
    )
    op.create_index("ix_review_flags_sender_id", "review_flags", ["sender_id"])
    op.create_index("ix_review_flags_status_turn_at", "review_flags", ["status", "turn_at"])

    op.create_table(
        "intent_corrections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("predicted_intent", sa.String(255), nullable=True),
        sa.Column("corrected_intent", sa.String(255), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("exported_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_intent_corrections"),
        sa.UniqueConstraint("sender_id", "event_id", name="uq_intent_corrections_sender_id_event_id"),
    )
    op.create_index("ix_intent_corrections_sender_id", "intent_corrections", ["sender_id"])
    op.create_index("ix_intent_corrections_corrected_intent", "intent_corrections", ["corrected_intent"])

    op.create_table(
        "console_saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.String(32), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_console_saved_filters"),
        sa.UniqueConstraint("user_id", "page", "name", name="uq_console_saved_filters_user_id_page_name"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["console_users.id"],
            name="fk_console_saved_filters_user_id_console_users",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("taken_at", TS, nullable=True),
        sa.Column("taken_by", sa.Integer(), nullable=True),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("expired_at", TS, nullable=True),
        sa.Column("ticket_ref", sa.String(20), nullable=True),
        sa.Column("notified_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handovers"),
        sa.CheckConstraint("status IN ('waiting', 'active', 'released', 'expired')", name="ck_handovers_status"),
        sa.ForeignKeyConstraint(
            ["taken_by"], ["console_users.id"], name="fk_handovers_taken_by_console_users", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_handovers_sender_id", "handovers", ["sender_id"])
    op.create_index("ix_handovers_status_requested_at", "handovers", ["status", "requested_at"])
    op.create_index(
        "uq_handovers_open_sender_id",
        "handovers",
        ["sender_id"],
        unique=True,
        sqlite_where=sa.text("status IN ('waiting', 'active')"),
        postgresql_where=sa.text("status IN ('waiting', 'active')"),
    )

    op.create_table(
        "agent_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handover_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("delivery_status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("delivered_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_agent_messages"),
        sa.CheckConstraint(
            "delivery_status IN ('pending', 'sent', 'failed')", name="ck_agent_messages_delivery_status"
        ),
        sa.ForeignKeyConstraint(
            ["handover_id"], ["handovers.id"], name="fk_agent_messages_handover_id_handovers", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["console_users.id"],
            name="fk_agent_messages_agent_id_console_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_agent_messages_handover_id", "agent_messages", ["handover_id"])
    op.create_index("ix_agent_messages_sender_id_created_at", "agent_messages", ["sender_id", "created_at"])


def downgrade() -> None:
    for table in (
        "agent_messages",
        "handovers",
        "console_saved_filters",
        "intent_corrections",
        "review_flags",
        "conversation_notes",
        "conversation_tags",
        "conversation_intents",
        "conversation_summaries",
        "tracker_sync_state",
        "console_login_attempts",
        "console_sessions",
        "console_users",
    ):
        # Dropping a table drops its indexes on both backends.
        op.drop_table(table)
