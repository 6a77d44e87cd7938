"""Telegram channel: durable update journal and long callback payloads.

Revision ID: 0002_channels
Revises: 0001_core
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_channels"
down_revision: str | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "telegram_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("replies", sa.JSON(), nullable=True),
        sa.Column("replies_sent", sa.Integer(), nullable=False),
        sa.Column("wait_notice_sent", sa.Boolean(), nullable=False),
        sa.Column("callback_message_id", sa.BigInteger(), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_telegram_updates"),
        sa.UniqueConstraint("bot_id", "update_id", name="uq_telegram_updates_bot_id_update_id"),
        sa.CheckConstraint(
            "status IN ('received', 'forwarded', 'replied', 'failed')", name="ck_telegram_updates_status"
        ),
    )
    op.create_index(
        "ix_telegram_updates_chat_id_status_update_id",
        "telegram_updates",
        ["chat_id", "status", "update_id"],
    )
    op.create_index("ix_telegram_updates_status_next_attempt_at", "telegram_updates", ["status", "next_attempt_at"])
    op.create_index("ix_telegram_updates_completed_at", "telegram_updates", ["completed_at"])

    op.create_table(
        "telegram_callback_payloads",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_telegram_callback_payloads"),
    )
    op.create_index("ix_telegram_callback_payloads_last_used_at", "telegram_callback_payloads", ["last_used_at"])


def downgrade() -> None:
    op.drop_index("ix_telegram_callback_payloads_last_used_at", table_name="telegram_callback_payloads")
    op.drop_table("telegram_callback_payloads")
    op.drop_index("ix_telegram_updates_completed_at", table_name="telegram_updates")
    op.drop_index("ix_telegram_updates_status_next_attempt_at", table_name="telegram_updates")
    op.drop_index("ix_telegram_updates_chat_id_status_update_id", table_name="telegram_updates")
    op.drop_table("telegram_updates")
