"""Outbound mail: the outbox, SMTP delivery, acknowledgements, notifications, replies, templates."""
