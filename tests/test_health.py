"""`ingestd health` and the HTTP endpoint: what monitoring sees when things are fine and when they are not."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta

from ingestd.app import App
from ingestd.clock import FakeClock
from ingestd.ops.health import CRITICAL, OK, WARNING, collect, prometheus
from ingestd.ops.http import serve
from tests.mail import complaint
from tests.outbound.conftest import START, outbox, take


def test_a_stuck_outbox_warns_then_goes_critical(make_app: Callable[..., App], sqlite_url: str) -> None:
    """Given an acknowledgement queued and never sent (SMTP unreachable), when 20 minutes pass the health is a
    warning, after 3 hours critical; the metrics show the backlog and its age, and the queue per department."""
    clock = FakeClock(START)
    app = make_app(sqlite_url, clock=clock, outbound={"smtp": {"host": "127.0.0.1", "port": 1, "tls": "plain"}})
    take(app, complaint())
    assert collect(app).status == OK
    clock.advance(timedelta(minutes=20))
    health = collect(app)
    assert health.status == WARNING and "1 queued" in health.checks[1].detail
    clock.advance(timedelta(hours=3))
    health = collect(app)
    assert health.status == CRITICAL
    text = prometheus(health)
    assert "ingestd_outbox_backlog 1\n" in text and "ingestd_outbox_oldest_seconds 12000\n" in text
    assert 'ingestd_queue_depth{department="triage"} 1\n' in text and "ingestd_up 1\n" in text


def test_endpoint_serves_healthz_and_metrics_and_503_without_a_database(make_app: Callable[..., App],
                                                                         sqlite_url: str) -> None:
    """Given the endpoint on a loopback port, then /healthz is 200 with the checks and /metrics is Prometheus
    text; when the register cannot be opened, /healthz is 503 and ingestd_up is 0."""
    app = make_app(sqlite_url)
    take(app, complaint())
    server = serve(app, "127.0.0.1:0")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=10) as reply:
            assert reply.status == 200 and json.loads(reply.read())["status"] == "ok"
        with urllib.request.urlopen(base + "/metrics", timeout=10) as reply:
            body = reply.read().decode()
        assert "# TYPE ingestd_cases gauge" in body and "ingestd_cases 1\n" in body
        from sqlalchemy import create_engine

        app.db.engine.dispose()
        app.db.engine = create_engine("sqlite:////nonexistent/dir/x.db")  # the register's disk is gone
        try:
            urllib.request.urlopen(base + "/healthz", timeout=10)
            raise AssertionError("expected 503")
        except urllib.error.HTTPError as exc:
            assert exc.code == 503 and json.loads(exc.read())["checks"][0]["name"] == "database"
        with urllib.request.urlopen(base + "/metrics", timeout=10) as reply:
            assert "ingestd_up 0\n" in reply.read().decode()
    finally:
        server.shutdown()


def test_the_health_command_exits_with_the_status(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Given a fresh register, `ingestd health` prints its checks and exits 0; given a config whose database
    cannot be opened, it exits 2."""
    from tests.test_cli import ingestd

    assert ingestd(tmp_path, "cases", "list").returncode == 0  # creates the register
    fine = ingestd(tmp_path, "health")
    assert fine.returncode == 0 and fine.stdout.splitlines()[-1] == "ingestd ok"
    (tmp_path / "bad.toml").write_text('[store]\ndatabase_url = "postgresql://nobody@127.0.0.1:1/none"\n')
    down = ingestd(tmp_path, "-c", "bad.toml", "health", "--json", process=True)  # a monitor runs a process
    assert down.returncode == 2, down.stderr
    first = json.loads(down.stdout)["checks"][0]
    assert (first["name"], first["status"]) == ("database", "critical") and "OperationalError" in first["detail"]


def test_sweep_removes_only_blobs_no_row_refers_to(make_app: Callable[..., App], sqlite_url: str) -> None:
    """Given a case (its raw message in the store, its acknowledgement's draft in the outbox row), a queued
    message whose draft names an attachment no other row refers to, and a blob left by a crash before its
    commit, when swept, then only the orphan goes, and a young orphan stays while it may be in flight."""
    from ingestd.ops.sweep import sweep_blobs
    from outbound.compose import Draft, OutAttachment
    from outbound.outbox import enqueue

    app = make_app(sqlite_url)
    case_no = take(app, complaint()).case_no
    with app.db.write() as session:
        enqueue(session, app.blobs, key=f"reply:{case_no}:test", case_id=None, now=START, draft=Draft(
            kind="reply", case_no=case_no, from_addr="complaints@ingestd.example", to_addr="zhang.wei@example.com",
            subject="答复", text="见附件", message_id="reply-test@ingestd.example", date=START,
            loop_id="complaints@ingestd.example",
            attachments=[OutAttachment("letter.pdf", "application/pdf", b"%PDF only this draft names")]))
    app.blobs.sync()
    orphan = app.blobs.put(b"written, then the process was killed before the commit")
    kept_before = set(app.blobs.all_digests())
    assert sweep_blobs(app.db, app.blobs) == []  # younger than an hour: perhaps a transaction in flight
    assert sweep_blobs(app.db, app.blobs, min_age_seconds=0) == [orphan]
    assert set(app.blobs.all_digests()) == kept_before - {orphan}
    app.outbound.drain()  # the acknowledgement and the reply are built from what the sweep kept
    assert [row.status for row in outbox(app)] == ["sent", "sent"]
