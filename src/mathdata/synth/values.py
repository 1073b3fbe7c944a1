"""Drawing slot values from the ranges in rules/templates.toml, and the train/test split.

Difficulty controls: `digits` (integer digits of every `decimal` slot: its range becomes
+-(10^digits - 1/10^places), keeping a non-negative slot non-negative) and `places` (decimal places of
every `decimal` slot); `overrides` sets any slot's min/max/places/len_min/len_max by name.

Splits (DeepMind mathematics_dataset style): a draw's slot values are hashed (template name + the
values' text), and the hash decides whether that value combination belongs to `train` or to `test`
(`test_fraction` of the space), so the two never share a problem whatever the seeds. `extrapolate`
draws every number from outside the train range (magnitude in (M, 10M] for decimal slots and
(M, 2M] for int and list slots, M the largest magnitude of the train range), so it is harder and
disjoint from train and test by construction. `any` draws from the train range with no split filter.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from decimal import Decimal
from random import Random
from typing import Callable

from ..errors import MathDataError
from ..limits import default_limits
from ..rules import Slot, Template

SPLITS = ("train", "test", "extrapolate", "any")
RANGE_LIMIT = Decimal(10) ** 30   # --range bounds (as --digits: at most 30 integer digits)
_OVERRIDE_KEYS = {"min", "max", "places", "len_min", "len_max"}


def decimal_text(n: int, places: int) -> str:
    """The text of n / 10^places as the data prints it (a float-like repr: 12.5, 12.0, -0.07)."""
    if places == 0:
        return str(n)
    digits = str(-n if n < 0 else n).rjust(places + 1, "0")
    frac = digits[-places:].rstrip("0") or "0"
    return ("-" if n < 0 else "") + digits[:-places] + "." + frac


def effective_slots(template: Template, digits: int | None = None, places: int | None = None,
                    overrides: dict[str, dict] | None = None) -> tuple[Slot, ...]:
    slots = []
    names = {s.name for s in template.slots}
    for key in overrides or {}:
        if key not in names:
            raise MathDataError(f"template {template.name!r}: no slot {key!r} to override",
                                f"slots: {', '.join(sorted(names))}")
    for s in template.slots:
        if s.kind == "decimal":
            if places is not None:
                s = replace(s, places=places)
            if digits is not None:
                top = Decimal(10) ** digits - Decimal(1).scaleb(-s.places)
                s = replace(s, min=0 if s.min >= 0 else -top, max=top)
        extra = (overrides or {}).get(s.name, {})
        if set(extra) - _OVERRIDE_KEYS:
            raise MathDataError(f"slot {s.name!r}: unknown override key(s) {', '.join(sorted(set(extra) - _OVERRIDE_KEYS))}",
                                f"valid: {', '.join(sorted(_OVERRIDE_KEYS))}")
        s = replace(s, **extra)
        if s.min > s.max or s.len_min > s.len_max or s.places < 0:
            raise MathDataError(f"template {template.name!r}: slot {s.name!r} has an empty range "
                                f"(min {s.min}, max {s.max}, places {s.places})", "need min <= max and places >= 0")
        slots.append(s)
    return tuple(slots)


def _int_bounds(s: Slot, scale: int) -> tuple[int, int]:
    return math.ceil(Decimal(str(s.min)) * scale), math.floor(Decimal(str(s.max)) * scale)


def _magnitude_drawer(rng: Random, lo: int, hi: int, factor: int, extrapolate: bool) -> Callable[[], int]:
    """(int(random() * span) rather than randint: 5x faster, bias below 1e-9 for these spans.)
    An integer in [lo, hi], or for extrapolate one of magnitude in (M, factor*M] (M = max |bound|),
    negative only if the train range allows negatives."""
    random = rng.random
    if not extrapolate:
        span = hi - lo + 1
        return lambda: lo + int(random() * span)
    top = max(abs(lo), abs(hi), 1)
    negative = lo < 0
    span = top * factor - top

    def draw() -> int:
        m = top + 1 + int(random() * span)
        return -m if negative and random() < 0.5 else m
    return draw


def _nonzero(draw: Callable[[], int], slot: Slot, lo: int, hi: int) -> Callable[[], int]:
    if lo == hi == 0:
        raise MathDataError(f"slot {slot.name!r} must be non-zero but its range holds only 0 "
                            f"(min {slot.min}, max {slot.max})", "widen the range, e.g. --range b=1:9")
    tries = default_limits().nonzero_redraws

    def redraw_zero() -> int:
        for _ in range(tries):
            n = draw()
            if n != 0:
                return n
        raise MathDataError(f"slot {slot.name!r}: {tries} draws in a row were 0 (min {slot.min}, max {slot.max})",
                            f"widen the range (limit: {default_limits().key('nonzero_redraws')})")
    return redraw_zero


def slot_drawer(slot: Slot, rng: Random, extrapolate: bool = False) -> Callable[[], tuple[str, object]]:
    """A function returning (text, exact value) for one slot."""
    if slot.kind == "decimal":
        places = slot.places
        scale = 10 ** places
        lo, hi = _int_bounds(slot, scale)
        if lo > hi:
            raise MathDataError(f"slot {slot.name!r}: no {places}-place value in [{slot.min}, {slot.max}]", "widen the range")
        draw = _magnitude_drawer(rng, lo, hi, 10, extrapolate)
        draw = _nonzero(draw, slot, lo, hi) if slot.nonzero and not extrapolate else draw

        def decimal_slot():
            text = decimal_text(draw(), places)
            return text, Decimal(text)
        return decimal_slot
    if slot.kind == "int":
        lo, hi = _int_bounds(slot, 1)
        draw = _magnitude_drawer(rng, lo, hi, 2, extrapolate)
        draw = _nonzero(draw, slot, lo, hi) if slot.nonzero and not extrapolate else draw

        def int_slot():
            n = draw()
            return str(n), Decimal(n)
        return int_slot
    if slot.kind == "list":
        lo, hi = _int_bounds(slot, 1)
        draw = _magnitude_drawer(rng, lo, hi, 2, extrapolate)
        random, len_min, len_span = rng.random, slot.len_min, slot.len_max - slot.len_min + 1

        def list_slot():
            xs = [draw() for _ in range(len_min + int(random() * len_span))]
            return "[" + ", ".join(map(str, xs)) + "]", [Decimal(x) for x in xs]
        return list_slot
    raise MathDataError(f"slot {slot.name!r}: kind {slot.kind!r} cannot be generated", "use decimal, int or list")


def split_of(template_name: str, texts: list[str], test_fraction: float) -> str:
    """'test' or 'train' for a value combination, by a hash of the values (not of the wording)."""
    key = (template_name + "\x1f" + "\x1f".join(texts)).encode()
    h = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")
    return "test" if h % 1_000_000 < test_fraction * 1_000_000 else "train"


def range_overrides(specs: list[str], templates: list[Template]) -> dict[str, dict]:
    """`--range SLOT=MIN:MAX[:PLACES]` options -> {template name: {slot: {min, max[, places]}}} for the
    templates that have that slot."""
    out: dict[str, dict] = {}
    for spec in specs:
        name, _, bounds = spec.partition("=")
        parts = bounds.split(":")
        try:
            if not name or len(parts) not in (2, 3):
                raise ValueError
            lo, hi = Decimal(parts[0]), Decimal(parts[1])
            if not (lo.is_finite() and hi.is_finite()):
                raise ValueError
            values = {"min": int(lo) if lo == lo.to_integral_value() else float(lo),
                      "max": int(hi) if hi == hi.to_integral_value() else float(hi)}
            if len(parts) == 3:
                values["places"] = int(parts[2])
        except (ValueError, ArithmeticError):
            raise MathDataError(f"--range {spec!r}: expected SLOT=MIN:MAX or SLOT=MIN:MAX:PLACES",
                                "e.g. --range a=-100:100:1") from None
        if max(abs(lo), abs(hi)) >= RANGE_LIMIT or not 0 <= values.get("places", 0) <= 10:
            raise MathDataError(f"--range {spec!r}: out of range", "use bounds below 1e30 in magnitude and 0..10 places")
        hits = [t for t in templates if name in t.slot_names]
        if not hits:
            names = sorted({s for t in templates for s in t.slot_names})
            raise MathDataError(f"--range {spec!r}: no slot {name!r} in the chosen templates", f"slots: {', '.join(names)}")
        for t in hits:
            out.setdefault(t.name, {})[name] = values
    return out
