"""The curriculum store's first schema: runs, tasks, outcomes, draws, phases.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("curriculum", sa.String(100), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("inherits_upto", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("key", sa.String(1200), nullable=False),
        sa.Column("family", sa.String(200), nullable=False),
        sa.Column("task_id", sa.String(1000), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("difficulty", sa.Float, nullable=False),
        sa.Column("prompt", sa.Text, nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("data", sa.Text, nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("audit_verdict", sa.String(100), nullable=True),
        sa.Column("plays", sa.Integer, nullable=False),
        sa.Column("successes", sa.Float, nullable=False),
        sa.Column("draws", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("run_id", "key", name="uq_tasks_run_key"),
    )
    op.create_table(
        "outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("episode_key", sa.String(255), nullable=False),
        sa.Column("task_key", sa.String(1200), nullable=False),
        sa.Column("family", sa.String(200), nullable=False),
        sa.Column("task_id", sa.String(1000), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("difficulty", sa.Float, nullable=False),
        sa.Column("success", sa.Float, nullable=False),
        sa.Column("reward", sa.Float, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("server", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("run_id", "episode_key", name="uq_outcomes_run_episode"),
    )
    op.create_index("ix_outcomes_model", "outcomes", ["model"])
    op.create_table(
        "draws",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("task_key", sa.String(1200), nullable=False),
        sa.Column("family", sa.String(200), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("server", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_draws_run", "draws", ["run_id", "id"])
    op.create_table(
        "phases",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("phase", sa.Integer, primary_key=True),
        sa.Column("server", sa.String(200), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in ("phases", "draws", "outcomes", "tasks", "runs"):
        op.drop_table(table)
