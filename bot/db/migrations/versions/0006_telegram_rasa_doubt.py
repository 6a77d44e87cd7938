"""Telegram journal: remember that Rasa may already have an update (a timed-out or interrupted forward).

Revision ID: 0006_telegram_rasa_doubt
Revises: 0005_console
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_telegram_rasa_doubt"
down_revision: str | None = "0005_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing pending rows get False: they were journaled before the connector recorded this, as before.
    with op.batch_alter_table("telegram_updates") as batch:
        batch.add_column(sa.Column("rasa_may_have_it", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("telegram_updates") as batch:
        batch.drop_column("rasa_may_have_it")
