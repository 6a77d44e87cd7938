"""Outreach: campaigns, campaign runs, the outbox, the scheduler lease and APScheduler's job store table.

Revision ID: 0004_outreach
Revises: 0003_webchat
Create Date: 2026-11-23

Hand-written like every Memnun migration: plain SQLAlchemy types, explicit constraint names (the naming
convention of ``bot.db.base``). ``apscheduler_jobs`` has exactly the layout APScheduler 3's
SQLAlchemyJobStore creates, so the job store adopts the table instead of creating its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_outreach"
down_revision: str | None = "0003_webchat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("survey_type", sa.String(8), nullable=False),
        sa.Column("commercial", sa.Boolean(), nullable=False),
        sa.Column("segment", sa.JSON(), nullable=False),
        sa.Column("template_tr", sa.Text(), nullable=False),
        sa.Column("template_en", sa.Text(), nullable=False),
        sa.Column("schedule_kind", sa.String(24), nullable=False),
        _ts("run_at"),
        sa.Column("cron", sa.String(120), nullable=True),
        sa.Column("delay_hours", sa.Integer(), nullable=True),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("reminder_after_hours", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("schedule_version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        _ts("scheduled_at"),
        _ts("last_run_at"),
        _ts("finished_at"),
        sa.PrimaryKeyConstraint("id", name="pk_campaigns"),
        sa.CheckConstraint("survey_type IN ('csat', 'nps', 'message')", name="ck_campaigns_survey_type"),
        sa.CheckConstraint(
            "schedule_kind IN ('once', 'cron', 'after_ticket_resolved', 'after_conversation')",
            name="ck_campaigns_schedule_kind",
        ),
        sa.CheckConstraint(
            "status IN ('draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled', 'missed')",
            name="ck_campaigns_status",
        ),
    )
    op.create_index("ix_campaigns_status", "campaigns", ["status"])

    op.create_table(
        "campaign_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("run_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        _ts("scheduled_for"),
        _ts("started_at", nullable=False),
        _ts("finished_at"),
        sa.Column("audience", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_runs"),
        _fk("campaign_runs", "campaign_id", "campaigns", "CASCADE"),
        sa.UniqueConstraint("campaign_id", "run_key", name="uq_campaign_runs_campaign_id_run_key"),
        sa.CheckConstraint("status IN ('running', 'completed', 'missed', 'failed')", name="ck_campaign_runs_status"),
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("occasion", sa.String(16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("run_key", sa.String(64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("sender_id", sa.String(128), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("intent", sa.String(48), nullable=False),
        sa.Column("survey_kind", sa.String(4), nullable=True),
        sa.Column("cap_group", sa.String(12), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("is_reminder", sa.Boolean(), nullable=False),
        sa.Column("reminder_of_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("skip_reason", sa.String(24), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(200), nullable=True),
        _ts("next_attempt_at", nullable=False),
        _ts("send_by"),
        sa.Column("claimed_by", sa.String(96), nullable=True),
        _ts("lease_expires_at"),
        sa.Column("rasa_messages", sa.JSON(), nullable=True),
        sa.Column("total_parts", sa.Integer(), nullable=True),
        sa.Column("delivered_parts", sa.Integer(), nullable=False),
        sa.Column("inflight_part", sa.Integer(), nullable=True),
        sa.Column("external_ids", sa.JSON(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        _ts("sending_started_at"),
        _ts("sent_at"),
        _ts("delivered_at"),
        _ts("responded_at"),
        _ts("finished_at"),
        _ts("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        _fk("outbox", "campaign_id", "campaigns", "CASCADE"),
        _fk("outbox", "customer_id", "customers", "SET NULL"),
        _fk("outbox", "ticket_id", "tickets", "SET NULL"),
        _fk("outbox", "reminder_of_id", "outbox", "SET NULL"),
        sa.CheckConstraint(
            "state IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'responded', 'skipped')",
            name="ck_outbox_state",
        ),
        sa.CheckConstraint(
            "occasion IN ('campaign', 'csat_checkin', 'ticket_followup', 'birthday', 'nps_checkin')",
            name="ck_outbox_occasion",
        ),
        sa.CheckConstraint("skip_reason IS NULL OR state = 'skipped'", name="ck_outbox_skip_reason_only_when_skipped"),
    )
    op.create_index("ix_outbox_state_next_attempt_at", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_campaign_id_state", "outbox", ["campaign_id", "state"])
    op.create_index("ix_outbox_customer_id_sent_at", "outbox", ["customer_id", "sent_at"])
    op.create_index("ix_outbox_ticket_id", "outbox", ["ticket_id"])

    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(96), nullable=False),
        _ts("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_scheduler_leases"),
    )

    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("next_run_time", sa.Float(25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_apscheduler_jobs"),
    )
    op.create_index("ix_apscheduler_jobs_next_run_time", "apscheduler_jobs", ["next_run_time"])


def downgrade() -> None:
    op.drop_index("ix_apscheduler_jobs_next_run_time", table_name="apscheduler_jobs")
    op.drop_table("apscheduler_jobs")
    op.drop_table("scheduler_leases")
    for index in (
        "ix_outbox_ticket_id",
        "ix_outbox_customer_id_sent_at",
        "ix_outbox_campaign_id_state",
        "ix_outbox_state_next_attempt_at",
    ):
        op.drop_index(index, table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("campaign_runs")
    op.drop_index("ix_campaigns_status", table_name="campaigns")
    op.drop_table("campaigns")
