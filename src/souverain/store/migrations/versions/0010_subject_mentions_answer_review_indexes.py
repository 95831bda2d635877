"""subject_mentions: indexes on answer_id and review_id, so that deleting an answer or a review finds its
mentions (ON DELETE CASCADE) without reading the whole table

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subject_mentions", schema=None) as batch_op:
        batch_op.create_index("ix_subject_mentions_answer_id", ["answer_id"], unique=False)
        batch_op.create_index("ix_subject_mentions_review_id", ["review_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_mentions_review_id")
        batch_op.drop_index("ix_subject_mentions_answer_id")
