"""Mail damaged the way it gets damaged in transit (flipped bytes, cut lines, stray NULs and encoded-word
fragments, truncation, duplicated runs): one seeded function, shared by the fuzz test and the fuzz bench."""

from __future__ import annotations

import random

NASTY = [b"\x00", b"\r", b"\n", b"\r\n\r\n", b"--", b"=?", b"?=", b"=?utf-8?B?", b"=?gb2312?Q?=B0", b"\xff\xfe",
         b"Content-Type: multipart/mixed; boundary=\"x\"\r\n", b"Content-Transfer-Encoding: base64\r\n",
         b"charset=\"x-unknown\"", b"filename*=UTF-8''%E6%8A", b"<", b">", b"\x1b", b"\xe6\x8a", b"\t",
         b"Content-Type: message/rfc822\r\n\r\n", b"begin 644 x\r\n", b"Content-Disposition: attachment; filename=\"../../x\"\r\n"]
OPERATIONS = ("flip", "insert", "delete", "truncate", "duplicate")


def damage(data: bytes, rng: random.Random, *, max_ops: int = 6) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, max_ops)):
        op = rng.choice(OPERATIONS)
        at = rng.randint(0, max(len(out) - 1, 0))
        if op == "flip" and out:
            out[at] = rng.randint(0, 255)
        elif op == "insert":
            out[at:at] = rng.choice(NASTY)
        elif op == "delete":
            del out[at:at + rng.randint(1, 64)]
        elif op == "truncate":
            del out[at:]
        else:
            out[at:at] = out[at:at + rng.randint(1, 200)]
    return bytes(out)
