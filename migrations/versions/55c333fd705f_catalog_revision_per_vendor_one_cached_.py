"""catalog revision per vendor: the revision arrives with the signed-in user's memberships,
so a cached catalog page costs no query of its own

Revision ID: 55c333fd705f
Revises: fa706781311f
Create Date: 2026-11-25 13:02:23.459164

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '55c333fd705f'
down_revision = 'fa706781311f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.drop_column('revision')

    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.add_column(sa.Column('catalog_revision', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('organization', schema=None) as batch_op:
        batch_op.drop_column('catalog_revision')

    with op.batch_alter_table('catalog', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))
