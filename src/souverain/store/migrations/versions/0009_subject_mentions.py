"""subject_mentions: which data subjects each document, chunk, answer and review mentions

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_mentions",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=True),
        sa.Column("chunk_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("answer_id", sa.String(length=32), nullable=True),
        sa.Column("review_id", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["chunk_id"], ["chunks.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["answer_id"], ["answers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["review_id"], ["reviews.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subject_mentions", schema=None) as batch_op:
        batch_op.create_index("ix_subject_mentions_subject", ["tenant", "subject"], unique=False)
        batch_op.create_index("ix_subject_mentions_document_id", ["document_id"], unique=False)
        batch_op.create_index("ix_subject_mentions_chunk_id", ["chunk_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_subject_mentions_chunk_id")
        batch_op.drop_index("ix_subject_mentions_document_id")
        batch_op.drop_index("ix_subject_mentions_subject")
    op.drop_table("subject_mentions")
