"""Fault: the daemon is killed (SIGKILL) again and again while it takes a mailbox and sends acknowledgements.

Breaks: the crash harness of `bench/crash_bench.py` (`crash_run`), with CI-sized counts: 150 generated
complaints in a Dovecot mailbox, `ingestd run` started as a real process and SIGKILLed 6 times, 3–6.5 s
after each start (start-up takes 3–4 s on this 2-core machine, the first sync about 2 s, sending the
acknowledgements about 7 s: so kills land in start-up, in the sync and in the sender),
then `ingestd run --once` passes until the mailbox and the outbox are empty (claims of a killed sender
expire after 5 s here). The full counts (1,000 messages, 30 kills) are `python -m bench.crash_bench`.

Checks: no message lost and none recorded twice (one case each, none left in INBOX), nothing valid in
quarantine, every case acknowledged, no orphaned blob left after `ingestd sweep-blobs`; and each
acknowledgement delivered exactly once. That last one can fail when a kill lands between the SMTP peer's
250 and the commit that marks the row sent (the copy has the same Message-ID): a known issue, being fixed
separately; the assertion says so when it fails.
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


def test_sigkilled_daemon_loses_and_doubles_nothing(dovecot: DovecotServer, smtp: SmtpServer,
                                                    tmp_path: Path) -> None:
    """Given 150 complaints in a mailbox, when `ingestd run` is SIGKILLed 6 times at random moments and then
    finished with `run --once` passes, then all 150 are one case each, none lost, doubled, left or parked,
    each case has its acknowledgement, no orphaned blob survives the sweep, and no acknowledgement went
    out twice."""
    started = time.monotonic()
    summary = crash_run(dovecot, smtp, make_messages(N), tmp_path, kills=KILLS, seed=11,
                        claim_timeout_seconds=5, min_wait=3.0, max_wait=6.5, pause=2.0)
    summary["seconds"] = round(time.monotonic() - started)
    print("\ncrash harness (CI counts):", json.dumps(summary))

    assert summary["kills"] == KILLS
    assert summary["lost"] == 0 and summary["left_in_inbox"] == 0, summary
    assert summary["duplicate_cases"] == 0 and summary["messages_twice"] == 0, summary
    assert summary["cases"] == N and summary["quarantined"] == 0, summary
    assert summary["outbox"] == {"sent": N}, summary
    assert summary["acks_distinct"] == N, summary
    assert summary["orphan_blobs"] == 0, summary
    assert summary["acks_delivered_twice"] == 0, (  # the sent journal (outbound/journal.py) leaves only SMTP's
        # own moment between the server taking the message and the 250 being noted (RFC 1047), microseconds wide
        f"{summary['acks_delivered_twice']} acknowledgement(s) delivered twice: a kill landed between the SMTP "
        f"server taking the message and the sent journal noting its 250. Everything else held: {summary}")
