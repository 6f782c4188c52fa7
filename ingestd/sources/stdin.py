"""`ingestd deliver`: one message on standard input, as an MTA pipe delivers it (e.g. Postfix `pipe`)."""

from __future__ import annotations

import sys

from ingestd.pipeline.items import RawInput

# sysexits.h: the MTA keeps the message and retries on EX_TEMPFAIL
EX_OK = 0
EX_TEMPFAIL = 75


def read_stdin() -> RawInput:
    data = sys.stdin.buffer.read()
    return RawInput(data=data, source="stdin", source_ref="")
