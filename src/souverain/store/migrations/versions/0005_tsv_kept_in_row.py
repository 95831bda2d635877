"""tsv kept in the row: PostgreSQL ranks full-text matches without a TOAST fetch per match

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A chunk's row (text, tsvector, embedding) passes PostgreSQL's 2 kB TOAST threshold, and by default
    # the tsvector was moved out of line with the embedding. Ranking reads the tsvector of every row that
    # matches a question, a TOAST index look-up each: at 100,000 chunks that was 40 of a 50 ms full-text
    # search (bench/knowledge.py). MAIN keeps it in the row (compressed if need be); the chunk's text,
    # read only for the few results, goes out of line first. Rows written before keep their layout until
    # they are written again (re-ingesting a document), so that this migration stays instant.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE chunks ALTER COLUMN tsv SET STORAGE MAIN")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE chunks ALTER COLUMN tsv SET STORAGE EXTENDED")
