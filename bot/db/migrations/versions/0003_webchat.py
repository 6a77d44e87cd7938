"""Web chat inbox: messages waiting for web visitors (agent replies, check-ins).

Revision ID: 0003_webchat
Revises: 0002_channels
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_webchat"
down_revision: str | None = "0002_channels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_inbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_web_inbox_messages"),
        sa.UniqueConstraint("idempotency_key", "position", name="uq_web_inbox_messages_idempotency_key_position"),
    )
    op.create_index("ix_web_inbox_messages_sender_pending", "web_inbox_messages", ["sender_id", "delivered_at"])
    op.create_index("ix_web_inbox_messages_created_at", "web_inbox_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_web_inbox_messages_created_at", table_name="web_inbox_messages")
    op.drop_index("ix_web_inbox_messages_sender_pending", table_name="web_inbox_messages")
    op.drop_table("web_inbox_messages")
