"""receive: accept raw bytes from a source, enforce size limits, fingerprint them."""

from __future__ import annotations

from ingestd.config.model import LimitsConfig
from ingestd.pipeline.items import Quarantine, RawInput


def receive(raw: RawInput, limits: LimitsConfig) -> RawInput:
    if not raw.data:
        raise Quarantine("empty input (0 bytes)")
    if len(raw.data) > limits.max_message_bytes:
        raise Quarantine(
            f"input is {len(raw.data):,} bytes, over the limit of {limits.max_message_bytes:,} "
            "(limits.max_message_bytes)"
        )
    _ = raw.sha256
    return raw
