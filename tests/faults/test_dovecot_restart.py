"""Fault: Dovecot is restarted in the middle of the first sync of a big folder.

Breaks: the daemon (`run_forever`, IDLE on, polling every 0.5 s) makes its first sync of 300 complaints in
INBOX, fetched and committed in batches of 50. As soon as intake has handed over the first committed batch
(and the source has moved it to Processed), Dovecot is stopped from another thread: the user's sessions
are kicked (`doveadm kick`, as a real restart's `shutdown_clients` does; this test server's plain `stop`
leaves live sessions serving) and the master is stopped. The second batch, already fetched, is committed,
but it cannot be moved, and the next FETCH fails. Dovecot stays down for about three seconds and is
started again on the same port.

Checks: the outage is logged as ERROR lines naming the mailbox and folder, a few of them and not one per
poll (the backoff holds the polls and the IDLE watcher back); while Dovecot is down nothing is lost (the
committed cases stay committed, the other messages stay in INBOX); after the backoff the daemon, still
running, finishes the sync: every message exactly one case (the committed-but-not-moved batch is
recognised, not opened again), none left in INBOX, all 300 in Processed, nothing in quarantine.

Related, in `tests/sources/test_imap_faults.py`: a connection cut mid-FETCH by a proxy (`run_once`), and
Dovecot restarted while the daemon idles between passes. This one restarts the real server mid-pass.
"""

from __future__ import annotations

import ast
import time
from collections import Counter
from collections.abc import Callable
from email.utils import make_msgid

from ingestd.app import App
from tests.faults.conftest import assert_each_once, break_after, case_count, errors_for
from tests.mail import complaint
from tests.servers.dovecot import DovecotServer, _port_open, captured_logs, running_daemon, wait_until

N = 300
BATCH = 50


def test_dovecot_restarted_mid_first_sync_loses_and_doubles_nothing(dovecot: DovecotServer,
                                                                     make_app: Callable[..., App],
                                                                     sqlite_url: str) -> None:
    """Given 300 complaints in INBOX and the daemon making its first sync in batches of 50, when Dovecot is
    stopped right after the first batch is committed and moved, and started again 3 s later, then the
    second batch stays committed (100 cases) and a few ERROR lines name the mailbox; after the backoff the
    second batch is recognised (50 duplicates, not new cases), all 300 are one case each, INBOX is empty and
    Processed holds 300."""
    user = dovecot.add_user()
    ids = [make_msgid(idstring=f"restart{i}", domain="example.com") for i in range(N)]
    dovecot.write_maildir(user, "INBOX", [complaint(sender=f"P{i} <p{i}@example.com>", subject=f"投诉 {i}",
                                                    message_id=mid) for i, mid in enumerate(ids)])
    app = make_app(sqlite_url, intake={"parse_workers": 1, "batch_size": BATCH},
                   outbound={"enabled": False},  # 300 acknowledgements to write would only slow the stop down
                   mailboxes=[dovecot.mailbox_config(user, poll_seconds=0.5, batch_size=BATCH)])

    def stop() -> None:
        dovecot.doveadm("kick", user)
        dovecot.stop()

    stopped = break_after(app, BATCH, stop)
    try:
        with captured_logs() as logs, running_daemon(app):
            assert wait_until(stopped.is_set, 30)
            down_since = time.monotonic()
            assert wait_until(lambda: len(errors_for(logs, "imap:desk/INBOX")) >= 2, 10)
            time.sleep(max(0.0, 3 - (time.monotonic() - down_since)))
            during = errors_for(logs, "imap:desk/INBOX")
            assert case_count(app) == 2 * BATCH  # the batch fetched before the stop is committed, not lost
            dovecot.start()
            assert wait_until(lambda: case_count(app) == N, 30), case_count(app)
            assert wait_until(lambda: dovecot.count(user, "INBOX") == 0, 15)
    finally:
        if not _port_open(dovecot.port):
            dovecot.start()

    assert all("dropped" in e or "cannot reach" in e for e in during), during
    assert len(during) <= 6, f"{len(during)} errors in 3 s: the folder is retried without a backoff"
    taken: Counter[str] = Counter()
    for record in logs:
        if record["extra"].get("source") == "imap:desk/INBOX" and record["message"].startswith("pass: "):
            taken.update(ast.literal_eval(record["message"].removeprefix("pass: ")))
    # the second batch, committed but not moved when the server went, is recognised after it: not a new case
    assert taken == {"created": N, "duplicate": BATCH}, taken
    assert dovecot.count(user, "Processed") == N
    assert_each_once(app, set(ids))
