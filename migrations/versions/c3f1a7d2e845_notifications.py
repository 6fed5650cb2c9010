"""notifications: in-app notifications (the bell) and each person's email opt-outs per kind

Revision ID: c3f1a7d2e845
Revises: 9b87ecb36b02
Create Date: 2026-12-01 07:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3f1a7d2e845'
down_revision = '9b87ecb36b02'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_notification_user_id_user')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organization.id'], name=op.f('fk_notification_vendor_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_unread', ['user_id', 'vendor_id', 'read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('email_opt_out',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_email_opt_out_user_id_user')),
    sa.PrimaryKeyConstraint('user_id', 'kind', name=op.f('pk_email_opt_out'))
    )


def downgrade():
    op.drop_table('email_opt_out')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_vendor_id'))
        batch_op.drop_index('ix_notification_unread')
    op.drop_table('notification')
