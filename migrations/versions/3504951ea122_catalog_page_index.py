"""catalog page index: (catalog_id, position) replaces the catalog_id index, so the catalog
page reads one page in order instead of sorting the whole catalog

Revision ID: 3504951ea122
Revises: ce716f6ec192
Create Date: 2026-11-25 11:00:40.985288

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3504951ea122'
down_revision = 'ce716f6ec192'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('catalog_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_item_catalog_id'))
        batch_op.create_index('ix_catalog_item_catalog_position', ['catalog_id', 'position'], unique=False)



def downgrade():
    with op.batch_alter_table('catalog_item', schema=None) as batch_op:
        batch_op.drop_index('ix_catalog_item_catalog_position')
        batch_op.create_index(batch_op.f('ix_catalog_item_catalog_id'), ['catalog_id'], unique=False)

