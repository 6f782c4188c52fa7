"""respond: what the register owes the outside world once an input is recorded.

Responders (the acknowledgement to the complainant, the department notification) write to the
outbox inside the same transaction as the case, so a message is queued if and only if the case
exists. This stage only runs them in order; each responder decides for itself whether it applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ingestd.pipeline.items import Classification, Parsed
from ingestd.pipeline.record import Recorded
from ingestd.store.register import Register


@dataclass(slots=True)
class ResponseContext:
    parsed: Parsed
    recorded: Recorded
    decision: Classification | None
    register: Register
    now: datetime


class Responder(Protocol):
    """`respond` runs once per recorded input. A responder may also have
    `prepare(register, parsed_inputs, now)`, called once per batch before any input, to look up in one
    query what `respond` would otherwise ask for each input (it keeps the answer in `register.memo`)."""

    name: str

    def respond(self, ctx: ResponseContext) -> None: ...


def respond(ctx: ResponseContext, responders: list[Responder]) -> None:
    for responder in responders:
        responder.respond(ctx)
