"""Outbound: what ingestd sends. The outbox (written in the intake transaction) is drained to SMTP or
to `.eml` files; formal replies are also rendered as printable letters."""
