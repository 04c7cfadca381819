"""Exchange rates for turning the stack's budget (`llm-platform:budget`, in its currency) into the
USD amounts LiteLLM budgets and costs are counted in (LiteLLM prices every model in USD:
litellm/model_prices_and_context_window_backup.json).

Units of the currency per 1 USD. The one place for these rates: the gateway budgets (stacks)
and the cost and TCO estimates (scripts/cost) read them here. Not re-read on this offline
machine: update them before budgeting.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    per_usd: float
    source: str
    as_of: str


RATES: dict[str, Rate] = {
    "USD": Rate(1.0, "identity", "2026-11-30"),
    "CNY": Rate(7.10, "CFETS USD/CNY central parity (https://www.chinamoney.com.cn/english/bmkcpr/), last read 2025-11 at 7.08-7.10", "2025-11"),
    "EUR": Rate(
        0.86,
        "ECB euro reference rate (https://www.ecb.europa.eu/stats/policy_and_exchange_rates/euro_reference_exchange_rates/html/eurofxref-graph-usd.en.html), "
        "last read 2025-11 at about 1.16 USD/EUR",
        "2025-11",
    ),
}


def to_usd(amount: float, currency: str) -> float:
    """`amount` of `currency` in USD; KeyError for a currency without a rate."""
    return amount / RATES[currency].per_usd
