"""Fault: the daemon is killed (SIGKILL) again and again while it takes a mailbox and sends acknowledgements.

Breaks: the crash harness of `bench/crash_bench.py` (`crash_run`), with CI-sized counts: 150 generated
complaints in a Dovecot mailbox, `ingestd run` started as a real process and its process group SIGKILLed
3 times while the SMTP server holds the 250 for a message it has taken (RFC 1047's moment), then 6 times
3–6.5 s after each start (start-up takes 3–4 s on this 2-core machine, the first sync about 2 s, sending the
acknowledgements about 7 s: so kills land in start-up, in the sync and in the sender),
then `ingestd run --once` passes until the mailbox and the outbox are empty (claims of a killed sender
expire after 5 s here). The full counts (1,000 messages, 30 kills) are `python -m bench.crash_bench`.

Checks: no message lost and none recorded twice (one case each, none left in INBOX), nothing valid in
quarantine, every case acknowledged, no orphaned blob left after `ingestd sweep-blobs`; and each
acknowledgement delivered exactly once, the three held in the 250's moment too: the SMTP courier
(`outbound/courier.py`) outlives the kill, notes the 250 in the sent journal, and the restarted sender
marks the row sent from it. (Before the courier each of those kills gave one copy.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from bench.crash_bench import crash_run
from bench.imap_bench import make_messages
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer

N = 150
KILLS = 6
WINDOW_KILLS = 3


def test_sigkilled_daemon_loses_and_doubles_nothing(dovecot: DovecotServer, smtp: SmtpServer,
                                                    tmp_path: Path) -> None:
    """Given 150 complaints in a mailbox, when `ingestd run` is SIGKILLed 3 times while the SMTP server holds
    a 250 and 6 times at random moments, and then finished with `run --once` passes, then all 150 are one
    case each, none lost, doubled, left or parked, each case has its acknowledgement, no orphaned blob
    survives the sweep, and no acknowledgement went out twice."""
    started = time.monotonic()
    summary = crash_run(dovecot, smtp, make_messages(N), tmp_path, kills=KILLS, seed=11,
                        window_kills=WINDOW_KILLS,
                        claim_timeout_seconds=5, min_wait=3.0, max_wait=6.5, pause=2.0)
    summary["seconds"] = round(time.monotonic() - started)
    print("\ncrash harness (CI counts):", json.dumps(summary))

    assert summary["kills"] == KILLS and summary["window_kills"] == WINDOW_KILLS, summary
    assert summary["lost"] == 0 and summary["left_in_inbox"] == 0, summary
    assert summary["duplicate_cases"] == 0 and summary["messages_twice"] == 0, summary
    assert summary["cases"] == N and summary["quarantined"] == 0, summary
    assert summary["outbox"] == {"sent": N}, summary
    assert summary["acks_distinct"] == N, summary
    assert summary["orphan_blobs"] == 0, summary
    assert summary["acks_delivered_twice"] == 0, summary
