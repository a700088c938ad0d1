"""The portable form of every number the hub writes into a credential, and the input check for it.

A number in a JSON-LD credential is signed through its RDF literal, so every processor must turn the
JSON number into the same literal. They do not for every value:

- jsonld.js (what the JavaScript verifiers use) decides "double or integer" from ``String(value)``:
  ``1e-7`` has no ``.`` there, so it becomes the *integer* ``"0"`` while pyld (and the hub's own
  canonicaliser, built on pyld) write ``"1.0E-7"``: the proof fails in every JS verifier.
- A whole number sent as ``5.0`` is an integer for JavaScript (``"5"``) and a double for Python
  (``"5.0E0"``).

The portable form, which every processor reads alike (tested property-style against jsonld.js /
rdf-canonize in ``tests/conformance/test_numbers_canonical.py``):

- **amounts** (ECTS ``creditsAvailable``, workload ``workloadHours``): a decimal with **at most two
  decimal places**, from **0.01 to 10,000**; a whole amount is written as a JSON integer (``5``), any
  other as the shortest JSON float (``2.5``, ``0.07``). Canonical literals: ``"5"``, ``"2.5E0"``.
- **levels** (``eqfLevel``, ``prkLevel``): whole numbers from 1 to 8, written as JSON integers.

Input is refused otherwise (:func:`parse_amount`, :func:`parse_level`) with a message naming the field
and the rule; the console, the API and any other caller go through the same micro-credential service
(:func:`hub.frameworks.microcredentials.describe`). Spec background: JSON-LD 1.1 §8.6 "Object to RDF
Conversion" (https://www.w3.org/TR/json-ld11-api/#object-to-rdf-conversion), XSD 1.1 canonical
``xsd:double``.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.i18n import number

#: Bounds of an amount (ECTS credits, workload hours), inclusive.
AMOUNT_MIN = Decimal("0.01")
AMOUNT_MAX = Decimal("10000")
#: Bounds of an EQF / PRK level, inclusive.
LEVEL_MIN, LEVEL_MAX = 1, 8

_HUNDRED = Decimal(100)
# A binary float a client computed (0.1 + 0.2 = 0.30000000000000004) is still "two decimals": noise below
# a millionth of a hundredth is ignored and the amount is stored rounded.
_NOISE = Decimal("1e-6")


def _amount_error(field: str) -> ValidationError:
    return ValidationError(
        _l(
            "%(field)s must be a number from %(low)s to %(high)s with at most two decimal places",
            field=field,
            low=number(0.01),
            high=number(10_000),
        ),
        field=field,
    )


def parse_amount(value, field: str) -> float | None:
    """An amount (ECTS credits, workload hours) from input, in its portable form, or None when empty.

    Accepts a JSON number or a string (``"2,5"`` with a decimal comma too, as the console's Polish users
    type it). Returns a float rounded to two places (``2.5``, ``10000.0``).

    Raises:
        ValidationError: not a number, not finite, a boolean, more than two decimal places, or outside
            0.01-10,000 (``field`` names the input).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _amount_error(field)
    try:
        if isinstance(value, str):
            amount = Decimal(value.strip().replace(",", "."))
        elif isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                raise _amount_error(field)
            amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        else:
            raise _amount_error(field)
    except (InvalidOperation, ValueError):
        raise _amount_error(field) from None
    if not amount.is_finite():
        raise _amount_error(field)
    hundredths = amount * _HUNDRED
    whole = hundredths.to_integral_value()
    if abs(hundredths - whole) > _NOISE:
        raise _amount_error(field)
    amount = whole / _HUNDRED
    if not AMOUNT_MIN <= amount <= AMOUNT_MAX:
        raise _amount_error(field)
    return float(amount)


def parse_level(value, field: str) -> int | None:
    """An EQF / PRK level (whole number 1-8) from input, or None when empty.

    Raises:
        ValidationError: a boolean, a fraction (``3.5``), text that is not a whole number, or outside 1-8.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    error = ValidationError(_l("%(field)s must be a level from 1 to 8", field=field), field=field)
    if isinstance(value, bool):
        raise error
    if isinstance(value, float):
        if not value.is_integer():
            raise error
        value = int(value)
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise error
        value = int(value.strip())
    if not isinstance(value, int) or not LEVEL_MIN <= value <= LEVEL_MAX:
        raise error
    return value


def portable_amount(value: float | int | None) -> float | int | None:
    """The JSON number a credential carries for a stored amount: rounded to two places, a whole amount
    as an ``int`` (``5``), else the shortest float (``2.5``); None for an empty, non-finite or
    non-positive value (the field is then left out). Stored amounts passed :func:`parse_amount`, so the
    rounding only ever changes a row written before that check."""
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    rounded = round(value, 2)
    if rounded <= 0:
        return None
    return int(rounded) if rounded.is_integer() else rounded


def portable_level(value: int | None) -> int | None:
    """The JSON integer a credential carries for a stored level (None outside 1-8)."""
    if value is None or isinstance(value, bool):
        return None
    return int(value) if LEVEL_MIN <= int(value) <= LEVEL_MAX else None
