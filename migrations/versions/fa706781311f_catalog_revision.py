"""catalog revision: bumped when a vendor's catalog contents change; the catalog page caches
rendered card grids under it

Revision ID: fa706781311f
Revises: 3504951ea122
Create Date: 2026-11-25 12:00:17.584368

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fa706781311f'
down_revision = '3504951ea122'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.drop_column('revision')

