"""stripe payments: card payments of orders (one row per Checkout Session) and the Stripe event log

The unique constraints make webhook retries harmless: one row per event id, per session,
per payment intent and per refund.

Revision ID: ce716f6ec192
Revises: 0dab3f90d1e4
Create Date: 2026-11-25 10:32:07.146975

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ce716f6ec192'
down_revision = '0dab3f90d1e4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('stripe_event',
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('object_id', sa.String(length=255), nullable=False),
    sa.Column('livemode', sa.Boolean(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=500), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_event')),
    sa.UniqueConstraint('event_id', name=op.f('uq_stripe_event_event_id'))
    )
    op.create_table('card_payment',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('open', 'processing', 'paid', 'failed', 'expired', name='cardpaymentstate', native_enum=False, length=16), nullable=False),
    sa.Column('amount_minor', sa.BigInteger(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('checkout_session_id', sa.String(length=255), nullable=False),
    sa.Column('checkout_url', sa.String(length=2000), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refund_id', sa.String(length=255), nullable=True),
    sa.Column('refund_reason', sa.String(length=1000), nullable=False),
    sa.Column('refund_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refund_requested_by_id', sa.Integer(), nullable=True),
    sa.Column('refunded_minor', sa.BigInteger(), nullable=False),
    sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_card_payment_amount_positive')),
    sa.CheckConstraint('refunded_minor >= 0 AND refunded_minor <= amount_minor', name=op.f('ck_card_payment_refund_within_amount')),
    sa.ForeignKeyConstraint(['order_id'], ['order.id'], name=op.f('fk_card_payment_order_id_order')),
    sa.ForeignKeyConstraint(['refund_requested_by_id'], ['user.id'], name=op.f('fk_card_payment_refund_requested_by_id_user')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organization.id'], name=op.f('fk_card_payment_vendor_id_organization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_card_payment')),
    sa.UniqueConstraint('checkout_session_id', name=op.f('uq_card_payment_checkout_session_id')),
    sa.UniqueConstraint('order_id', 'attempt', name=op.f('uq_card_payment_order_id_attempt')),
    sa.UniqueConstraint('payment_intent_id', name=op.f('uq_card_payment_payment_intent_id')),
    sa.UniqueConstraint('refund_id', name=op.f('uq_card_payment_refund_id'))
    )
    with op.batch_alter_table('card_payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_card_payment_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_card_payment_vendor_id'), ['vendor_id'], unique=False)



def downgrade():
    with op.batch_alter_table('card_payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_card_payment_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_card_payment_order_id'))

    op.drop_table('card_payment')
    op.drop_table('stripe_event')
