"""fts vocabulary: document frequency of each word, for SQLite's full-text queries

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite only: a read-only view of the FTS5 index giving, per word, the number of chunks holding it.
    # Questions drop the words too common to tell chunks apart (PostgreSQL has stop words per language).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE chunks_fts_vocabulary USING fts5vocab(chunks_fts, 'row')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chunks_fts_vocabulary")
