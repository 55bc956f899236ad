"""Record keys for posts: TIDs (atproto.com/specs/tid), generated here because no SDK does.

A post's record key is chosen by the bot, once per delivery, and kept in the delivery's recovery
handles before the write: a retry writes the same record to the same key (an idempotent
`putRecord`), and after a crash `getRecord` by that key says exactly whether the post exists.

A TID is 64 bits written as 13 characters of base32-sortable: a zero bit, 53 bits of
microseconds since the Unix epoch, 10 bits of "clock id" (random here, so two workers choosing
a key in the same microsecond still differ).
"""

from __future__ import annotations

import random
import re

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
"""base32-sortable: the characters sort in the order of the values they stand for."""
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
"""What the PDS accepts as a post's record key (the first character keeps the top bit zero)."""
_MICROS_BITS = 53
_CLOCK_BITS = 10


def encode(value: int) -> str:
    """A 63-bit unsigned value as 13 base32-sortable characters, most significant first."""
    if not 0 <= value < 1 << 63:
        raise ValueError(f"a TID holds 63 bits, not {value}")
    chars = []
    for _ in range(13):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def decode(tid: str) -> tuple[int, int]:
    """(microseconds since the epoch, clock id) of a TID; ValueError for anything else."""
    if not TID.fullmatch(tid):
        raise ValueError(f"{tid!r} is not a TID")
    value = 0
    for char in tid:
        value = value << 5 | ALPHABET.index(char)
    return value >> _CLOCK_BITS, value & ((1 << _CLOCK_BITS) - 1)


def make_tid(epoch_seconds: float, clock_id: int) -> str:
    """The TID for an instant and a clock id (0..1023)."""
    if not 0 <= clock_id < 1 << _CLOCK_BITS:
        raise ValueError(f"clock id {clock_id} is outside 0..1023")
    micros = round(epoch_seconds * 1_000_000)
    if not 0 <= micros < 1 << _MICROS_BITS:
        raise ValueError(f"{epoch_seconds} is outside the range a TID can date")
    return encode(micros << _CLOCK_BITS | clock_id)


def new_tid(epoch_seconds: float, rng: random.Random | None = None) -> str:
    """A fresh record key for a post made now (a random clock id)."""
    return make_tid(epoch_seconds, (rng or random.SystemRandom()).randrange(1 << _CLOCK_BITS))


def is_tid(value: str) -> bool:
    return bool(TID.fullmatch(value))
