"""Signals other apps listen to, sent inside the sending service's transaction with the application's row
locked: a receiver's writes commit or roll back with the change that caused them."""

from django.dispatch import Signal

# An application was finally rejected (审核不通过). Arguments: ``application``, ``actor``. The payments app
# refunds a fee already paid (programmes that take payment before review, seed 001).
application_rejected = Signal()
