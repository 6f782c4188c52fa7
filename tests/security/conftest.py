"""Fixtures for the security tests: the outbound ones (a loopback SMTP server, a fake clock, apps that send to
it) re-exported, so an attack can be followed from the complaint that carries it to the mail that goes out."""

from __future__ import annotations

from tests.outbound.conftest import clock, make_outbound_app

__all__ = ["clock", "make_outbound_app"]
