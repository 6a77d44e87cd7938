"""Core tables: customers, channel identities, loyalty, rewards, orders, tickets, feedback, surveys, audit.

Revision ID: 0001_core
Revises: (none)
Create Date: 2026-11-23

Hand-written: migrations are a frozen record of the schema, so they use plain SQLAlchemy types (never the
application's models) and spell out every constraint name (the naming convention of ``bot.db.base``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_core"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    """A timezone-aware UTC timestamp column."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(table: str) -> tuple[sa.Column, sa.PrimaryKeyConstraint]:
    return sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _fk(table: str, column: str, target: str, ondelete: str | None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete)


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), unique=False)


def upgrade() -> None:
    op.create_table(
        "customers",
        *_id("customers"),
        sa.Column("customer_number", sa.String(8), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("preferred_language", sa.String(2), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("checkin_consent", sa.Boolean(), nullable=False),
        _ts("checkin_consent_at", nullable=True),
        sa.Column("checkin_consent_source", sa.String(64), nullable=True),
        sa.Column("marketing_consent", sa.Boolean(), nullable=False),
        _ts("marketing_consent_at", nullable=True),
        sa.Column("marketing_consent_source", sa.String(64), nullable=True),
        _ts("opted_out_at", nullable=True),
        _ts("erased_at", nullable=True),
        _ts("created_at"),
        sa.CheckConstraint("preferred_language IN ('tr', 'en')", name="ck_customers_preferred_language"),
        sa.UniqueConstraint("customer_number", name="uq_customers_customer_number"),
        sa.UniqueConstraint("phone", name="uq_customers_phone"),
    )

    op.create_table(
        "channel_identities",
        *_id("channel_identities"),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("reachable", sa.Boolean(), nullable=False),
        sa.Column("unreachable_reason", sa.String(64), nullable=True),
        _ts("opted_out_at", nullable=True),
        sa.Column("identification_failures", sa.Integer(), nullable=False),
        _ts("locked_until", nullable=True),
        _ts("first_seen"),
        _ts("last_seen"),
        _fk("channel_identities", "customer_id", "customers", "SET NULL"),
        sa.UniqueConstraint("channel", "external_id", name="uq_channel_identities_channel_external_id"),
    )
    _index("channel_identities", "customer_id")

    op.create_table(
        "loyalty_accounts",
        *_id("loyalty_accounts"),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("balance", sa.Integer(), nullable=False),
        sa.Column("lifetime_points", sa.Integer(), nullable=False),
        sa.Column("tier", sa.String(32), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.CheckConstraint("balance >= 0", name="ck_loyalty_accounts_balance_not_negative"),
        sa.CheckConstraint("lifetime_points >= 0", name="ck_loyalty_accounts_lifetime_not_negative"),
        _fk("loyalty_accounts", "customer_id", "customers", "CASCADE"),
        sa.UniqueConstraint("customer_id", name="uq_loyalty_accounts_customer_id"),
    )

    op.create_table(
        "point_ledger",
        *_id("point_ledger"),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.Date(), nullable=True),
        _ts("created_at"),
        sa.CheckConstraint("kind IN ('earn', 'redeem', 'expire', 'adjust')", name="ck_point_ledger_kind"),
        sa.CheckConstraint(
            "(kind = 'earn' AND points > 0) OR (kind IN ('redeem', 'expire') AND points < 0) OR kind = 'adjust'",
            name="ck_point_ledger_points_sign",
        ),
        _fk("point_ledger", "account_id", "loyalty_accounts", "CASCADE"),
        sa.UniqueConstraint("idempotency_key", name="uq_point_ledger_idempotency_key"),
    )
    _index("point_ledger", "account_id", "created_at")

    op.create_table(
        "rewards",
        *_id("rewards"),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name_tr", sa.String(120), nullable=False),
        sa.Column("name_en", sa.String(120), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=True),
        _ts("valid_from", nullable=True),
        _ts("valid_until", nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint("cost > 0", name="ck_rewards_cost_positive"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="ck_rewards_stock_not_negative"),
        sa.UniqueConstraint("code", name="uq_rewards_code"),
    )

    op.create_table(
        "redemptions",
        *_id("redemptions"),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reward_id", sa.Integer(), nullable=False),
        sa.Column("coupon_code", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        _ts("created_at"),
        _fk("redemptions", "customer_id", "customers", "CASCADE"),
        _fk("redemptions", "reward_id", "rewards", None),
        sa.UniqueConstraint("coupon_code", name="uq_redemptions_coupon_code"),
        sa.UniqueConstraint("idempotency_key", name="uq_redemptions_idempotency_key"),
    )
    _index("redemptions", "customer_id")
    _index("redemptions", "reward_id")

    op.create_table(
        "birthday_coupons",
        *_id("birthday_coupons"),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("coupon_code", sa.String(32), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        _ts("created_at"),
        _fk("birthday_coupons", "customer_id", "customers", "CASCADE"),
        sa.UniqueConstraint("coupon_code", name="uq_birthday_coupons_coupon_code"),
        sa.UniqueConstraint("customer_id", "year", name="uq_birthday_coupons_customer_id_year"),
    )

    op.create_table(
        "orders",
        *_id("orders"),
        sa.Column("number", sa.String(9), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("carrier", sa.String(40), nullable=True),
        sa.Column("tracking_code", sa.String(40), nullable=True),
        sa.Column("total", sa.Numeric(12, 2), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        _ts("placed_at"),
        _ts("shipped_at", nullable=True),
        _ts("delivered_at", nullable=True),
        sa.Column("estimated_delivery", sa.Date(), nullable=True),
        sa.Column("return_window_days", sa.Integer(), nullable=False),
        sa.Column("refund_status", sa.String(16), nullable=True),
        sa.CheckConstraint(
            "status IN ('placed', 'preparing', 'shipped', 'out_for_delivery', 'delivered', 'cancelled', 'returned')",
            name="ck_orders_status",
        ),
        sa.CheckConstraint(
            "refund_status IS NULL OR refund_status IN ('pending', 'refunded')", name="ck_orders_refund_status"
        ),
        _fk("orders", "customer_id", "customers", "SET NULL"),
        sa.UniqueConstraint("number", name="uq_orders_number"),
    )
    _index("orders", "customer_id", "placed_at")

    op.create_table(
        "tickets",
        *_id("tickets"),
        sa.Column("ref", sa.String(20), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("order_number", sa.String(9), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("first_response_due_at"),
        _ts("first_response_at", nullable=True),
        _ts("resolved_at", nullable=True),
        _ts("closed_at", nullable=True),
        sa.CheckConstraint("status IN ('open', 'in_progress', 'resolved', 'closed')", name="ck_tickets_status"),
        sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="ck_tickets_priority"),
        _fk("tickets", "customer_id", "customers", "SET NULL"),
        sa.UniqueConstraint("ref", name="uq_tickets_ref"),
        sa.UniqueConstraint("idempotency_key", name="uq_tickets_idempotency_key"),
    )
    _index("tickets", "customer_id")
    _index("tickets", "order_number")
    _index("tickets", "conversation_id")
    _index("tickets", "assignee")
    _index("tickets", "created_at")
    _index("tickets", "status", "priority", "created_at")
    _index("tickets", "status", "first_response_due_at")

    op.create_table(
        "ticket_notes",
        *_id("ticket_notes"),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("internal", sa.Boolean(), nullable=False),
        _ts("created_at"),
        _fk("ticket_notes", "ticket_id", "tickets", "CASCADE"),
    )
    _index("ticket_notes", "ticket_id")

    op.create_table(
        "ticket_events",
        *_id("ticket_events"),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("field", sa.String(16), nullable=False),
        sa.Column("old_value", sa.String(64), nullable=True),
        sa.Column("new_value", sa.String(64), nullable=True),
        _ts("created_at"),
        _fk("ticket_events", "ticket_id", "tickets", "CASCADE"),
    )
    _index("ticket_events", "ticket_id")

    op.create_table(
        "feedback",
        *_id("feedback"),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("sentiment", sa.String(8), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("conversation_id", sa.String(128), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="ck_feedback_rating_range"),
        sa.CheckConstraint("sentiment IN ('positive', 'neutral', 'negative')", name="ck_feedback_sentiment"),
        _fk("feedback", "customer_id", "customers", "SET NULL"),
        sa.UniqueConstraint("idempotency_key", name="uq_feedback_idempotency_key"),
    )
    _index("feedback", "customer_id")
    _index("feedback", "created_at")

    op.create_table(
        "survey_responses",
        *_id("survey_responses"),
        sa.Column("kind", sa.String(4), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        # The foreign keys to campaigns / the outbox are added by the outreach migration (0003).
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("ticket_ref", sa.String(20), nullable=True),
        sa.Column("recovery_ticket_ref", sa.String(20), nullable=True),
        sa.Column("conversation_id", sa.String(128), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        _ts("created_at"),
        sa.CheckConstraint("kind IN ('csat', 'nps')", name="ck_survey_responses_kind"),
        sa.CheckConstraint(
            "(kind = 'csat' AND score BETWEEN 1 AND 5) OR (kind = 'nps' AND score BETWEEN 0 AND 10)",
            name="ck_survey_responses_score_range",
        ),
        _fk("survey_responses", "customer_id", "customers", "SET NULL"),
        sa.UniqueConstraint("idempotency_key", name="uq_survey_responses_idempotency_key"),
    )
    _index("survey_responses", "campaign_id")
    _index("survey_responses", "outbox_id")
    _index("survey_responses", "customer_id")
    _index("survey_responses", "created_at")
    _index("survey_responses", "kind", "created_at")

    op.create_table(
        "conversations",
        *_id("conversations"),
        sa.Column("sender_id", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(2), nullable=True),
        _ts("first_seen"),
        _ts("last_seen"),
        _fk("conversations", "customer_id", "customers", "SET NULL"),
        sa.UniqueConstraint("sender_id", name="uq_conversations_sender_id"),
    )
    _index("conversations", "customer_id")
    _index("conversations", "last_seen")

    op.create_table(
        "audit_log",
        *_id("audit_log"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        _ts("created_at"),
    )
    _index("audit_log", "entity", "entity_id")
    _index("audit_log", "created_at")


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes and constraints with it.
    for table in (
        "audit_log",
        "conversations",
        "survey_responses",
        "feedback",
        "ticket_events",
        "ticket_notes",
        "tickets",
        "orders",
        "birthday_coupons",
        "redemptions",
        "rewards",
        "point_ledger",
        "loyalty_accounts",
        "channel_identities",
        "customers",
    ):
        op.drop_table(table)
