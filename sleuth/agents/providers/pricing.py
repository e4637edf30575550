"""USD per 1M input / output tokens, by model. Overridable with `SLEUTH_PRICES` (JSON).

List prices drift and negotiated prices differ, so the table is a default, not a truth: an
operator sets `SLEUTH_PRICES='{"gpt-4o-mini": {"input": 0.15, "output": 0.6}}'` (or `[0.15, 0.6]`)
to match their bill. An unknown model costs 0 — tokens are still counted, so the token budget
keeps working when the cost figure cannot.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("sleuth.agents.providers")
_warned: set[str] = set()

Price = tuple[float, float]  # (input, output) USD per 1M tokens

# Public list prices (standard tier) when this table was written. Dated snapshots such as
# "claude-sonnet-4-5-20250929" or "gpt-4o-2024-08-06" are priced as their alias. Models newer
# than the table cost 0 (with a warning) until SLEUTH_PRICES names them: a guessed price would
# be a wrong number on a bill-shaped report.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.00, 8.00),
    "o4-mini": (1.10, 4.40),
    "claude-opus-4-5": (5.00, 25.00),
    "claude-opus-4-1": (15.00, 75.00),
    "claude-opus-4": (15.00, 75.00),
    "claude-sonnet-4-5": (3.00, 15.00),
    "claude-sonnet-4": (3.00, 15.00),
    "claude-3-7-sonnet": (3.00, 15.00),
    "claude-haiku-4-5": (1.00, 5.00),
    "claude-3-5-haiku": (0.80, 4.00),
}

ENV_VAR = "SLEUTH_PRICES"


def _price(model: str, value: Any) -> Price:
    if isinstance(value, Mapping):
        value = (value.get("input"), value.get("output"))
    if isinstance(value, list | tuple) and len(value) == 2:
        try:
            inp, out = float(value[0]), float(value[1])
        except (TypeError, ValueError):
            pass
        else:
            if inp >= 0 and out >= 0:
                return inp, out
    raise ValueError(
        f'{ENV_VAR}: price for {model!r} must be {{"input": <usd/1M>, "output": <usd/1M>}} '
        f"or [input, output] with non-negative numbers, got {value!r}"
    )


def price_table(env: Mapping[str, str] | None = None) -> dict[str, Price]:
    """The defaults with `SLEUTH_PRICES` laid over them. A malformed override is an error, not a 0."""
    table = dict(DEFAULT_PRICES)
    raw = (env if env is not None else os.environ).get(ENV_VAR, "").strip()
    if not raw:
        return table
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{ENV_VAR} is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ValueError(f"{ENV_VAR} must be a JSON object mapping model name to price")
    for model, value in parsed.items():
        table[str(model)] = _price(str(model), value)
    return table


_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def price_for(model: str, table: Mapping[str, Price]) -> Price | None:
    if model in table:
        return table[model]
    # Only a date or "-latest" suffix is stripped: "gpt-5.1-mini" must not be priced as "gpt-5.1".
    alias = _SNAPSHOT.sub("", model)
    return table.get(alias)


def cost_usd(model: str, input_tokens: int, output_tokens: int, table: Mapping[str, Price]) -> float:
    price = price_for(model, table)
    if price is None:
        return 0.0
    return round((input_tokens * price[0] + output_tokens * price[1]) / 1_000_000, 8)


def warn_unpriced(name: str) -> None:
    if name not in _warned:
        _warned.add(name)
        log.warning("no price for %s: tokens are counted, cost reads 0; set %s to price it", name, ENV_VAR)
