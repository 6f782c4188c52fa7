"""Fault: the SMTP peer is down for several minutes while complaints keep arriving.

Breaks: the daemon (`run_forever`) runs with a drop folder and an SMTP peer (aiosmtpd) whose port has
nothing listening. Its clock (`ScaledClock`, injected with `make_app(clock=...)`) runs 120 times faster once
the daemon is up, so seven minutes of outage and of retry backoff pass in 3.5 seconds, while the sender
job keeps firing every 0.05 s of real time (6 s of the app's time). Complaints are dropped three times during
the outage. Then the peer starts on the same port.

Checks: nothing is lost or sent twice: each queued message (an acknowledgement and a department
notification per case) is delivered exactly once, after the peer is back; each message's retry delay
doubles (30 s, 60 s, 120 s, ...); and the sender does not spin: it tries to connect only when some message
is due, a handful of times over the outage, although its job ran dozens of times.
(`tests/outbound/test_delivery.py` checks the same backoff step by step on a fake clock, without the daemon.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import make_msgid
from pathlib import Path

import pytest

from ingestd.app import App
from outbound.courier import CourierTransport
from outbound.smtp import OutboxSender
from tests.faults.conftest import ScaledClock, case_count, drop, drop_config, quarantined
from tests.mail import complaint
from tests.outbound.conftest import outbound_section, outbox
from tests.servers.dovecot import captured_logs, running_daemon, wait_until
from tests.servers.smtp import SmtpServer

SPEED = 120.0  # one real second is two minutes for the app
BASE = 30  # retry_base_seconds
RETRY = re.compile(r"outbox #(\d+): will retry in (\d+)s")


def complaints(n: int, tag: str) -> list[bytes]:
    return [complaint(sender=f"Person {tag}{i} <p.{tag}{i}@example.com>", subject=f"投诉 {tag} {i}",
                      message_id=make_msgid(idstring=f"{tag}{i}", domain="example.com")) for i in range(n)]


def test_smtp_down_for_minutes_delivers_each_message_once_with_growing_backoff(
        make_app: Callable[..., App], sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the daemon with the SMTP peer down, when 6 complaints are dropped over 4 minutes (12 messages
    queued) and the peer stays down for 7 minutes, then every message waits, retried after 30, 60, 120, 240 s;
    the sender connects about a dozen times in all while its job runs some 70 times; and when the peer
    comes up on the same port, each message is delivered exactly once."""
    clock = ScaledClock()
    peer = SmtpServer()  # its port is reserved, nothing listens on it yet: the peer is down
    folder = tmp_path / "drop"
    app = make_app(sqlite_url, clock=clock, intake={"parse_workers": 1}, reminders={"enabled": False},
                   sources={"folders": [drop_config(folder)]},
                   outbound=outbound_section(peer, send_interval_seconds=0.05, retry_base_seconds=BASE,
                                             max_attempts=20))

    connections: list[tuple[datetime, bool]] = []
    drains = [0]
    tried, drain = CourierTransport._connections_tried, OutboxSender.drain

    def counting_connections(self: CourierTransport, attempts: list[bool]) -> None:  # reported by the courier
        connections.extend((clock.now(), ok) for ok in attempts)
        tried(self, attempts)

    def counting_drain(self: OutboxSender, **kwargs):  # type: ignore[no-untyped-def]
        drains[0] += 1
        return drain(self, **kwargs)

    monkeypatch.setattr(CourierTransport, "_connections_tried", counting_connections)
    monkeypatch.setattr(OutboxSender, "drain", counting_drain)

    def at(minutes: float) -> bool:
        return wait_until(lambda: clock.now() >= down_since + timedelta(minutes=minutes), 30, interval=0.02)

    try:
        with captured_logs() as logs, running_daemon(app):
            drop(folder, complaints(2, "a"), "a")
            assert wait_until(lambda: len(outbox(app)) == 4 and {r.attempts for r in outbox(app)} == {1}, 15)
            clock.set_speed(SPEED)
            down_since = clock.now()
            assert at(2)
            drop(folder, complaints(2, "b"), "b")
            assert at(4)
            drop(folder, complaints(2, "c"), "c")
            assert at(7)
            assert case_count(app) == 6 and len(outbox(app)) == 12
            assert {r.status for r in outbox(app)} == {"queued"} and peer.messages == []
            drains_while_down = drains[0]
            peer.start()  # back, on the same port
            up_at = clock.now()
            assert wait_until(lambda: {r.status for r in outbox(app)} == {"sent"}, 30)
            settled = len(peer.messages)
            assert at((clock.now() - down_since).total_seconds() / 60 + 3)  # three more minutes: nothing more goes out
    finally:
        peer.stop()

    rows = outbox(app)
    delivered = [str(m.message["Message-ID"]).strip("<>") for m in peer.messages]
    assert len(rows) == 12 and settled == len(delivered) == 12
    assert sorted(delivered) == sorted(r.message_id for r in rows), "each queued message delivered exactly once"
    assert quarantined(app) == []

    delays: dict[int, list[int]] = {}
    for record in logs:
        if found := RETRY.search(record["message"]):
            delays.setdefault(int(found[1]), []).append(int(found[2]))
    assert set(delays) == {r.id for r in rows}
    for row in rows:
        steps = delays[row.id]
        assert steps == [BASE * 2 ** i for i in range(len(steps))], (row.id, steps)  # the backoff doubles
        assert row.attempts == len(steps) + 1  # the failures, then the delivery
    assert max(len(s) for s in delays.values()) >= 4  # the first wave waited 30, 60, 120 and 240 s

    failed = [when for when, ok in connections if not ok]
    assert failed and all(when < up_at for when in failed)
    assert all(when >= up_at for when, ok in connections if ok)
    # Each wave of complaints is tried at most 4 times in 7 minutes (after 30, 60, 120, 240 s); 3 waves, and
    # slack for a wave whose two files land in two passes. A sender that spins would connect at every run.
    assert len(failed) <= 16, f"{len(failed)} connection attempts in 7 minutes: the sender spins"
    assert drains_while_down >= 2 * len(failed), (drains_while_down, len(failed))
    print(f"\nSMTP down 7 min: {len(failed)} failed connections, {drains_while_down} sender runs, "
          f"delays per message {sorted(delays.values())}")
