"""Privacy: tracker_purges, conversations whose Rasa events erasure deletes once more a little later.

Revision ID: 0007_tracker_purges
Revises: 0006_telegram_rasa_doubt
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_tracker_purges"
down_revision: str | None = "0006_telegram_rasa_doubt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tracker_purges",
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("sender_id", name="pk_tracker_purges"),
    )
    op.create_index("ix_tracker_purges_due_at", "tracker_purges", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_tracker_purges_due_at", table_name="tracker_purges")
    op.drop_table("tracker_purges")
