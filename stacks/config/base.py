"""Names, phases, clouds, tags and budget: what every phase's config shares."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

NAMESPACE = "llm-platform"
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
# AWS tag keys and values: letters and digits (any script), spaces and _ . : / = + - @; keys up to
# 128, values up to 256 characters; the prefix aws: is reserved (docs.aws.amazon.com/tag-editor/
# latest/userguide/tagging.html, "Tag naming limits and requirements", read 2026-12-01).
_AWS_TAG_CHARS = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
# Azure tag names may not contain < > % & \ ? /; names up to 512, values up to 256 characters;
# names are case-insensitive (learn.microsoft.com/azure/azure-resource-manager/management/
# tag-resources#limitations, read 2026-12-01).
_AZURE_TAG_FORBIDDEN = re.compile(r"[<>%&\\?/]")
# components/tags.py labels Kubernetes objects `llm-platform.io/<tag key>`: the name part of a label
# key is at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric
# (kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).
_K8S_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
# CloudWatch Logs accepts only these retention periods.
CLOUDWATCH_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class Phase(StrEnum):
    POC = "poc"
    BETA = "beta"
    SCALE = "scale"

    @property
    def rank(self) -> int:
        return list(Phase).index(self)


class Cloud(StrEnum):
    AWS = "aws"
    AZURE = "azure"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)


# --------------------------------------------------------------------------- tags and budget

RESERVED_TAGS = ("phase", "data-residency")


class TagsConfig(_Model):
    """Required `cost-center` and `owner`, plus any extra tags the user wants on everything."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, str_strip_whitespace=True)

    cost_center: str = Field(alias="cost-center", min_length=1, max_length=256)
    owner: str = Field(min_length=1, max_length=256)

    @model_validator(mode="after")
    def _check_extras(self) -> TagsConfig:
        seen = {"cost-center", "owner"}
        for key, value in (self.model_extra or {}).items():
            # AWS tag keys are case-sensitive, Azure tag names are not: Data-Residency would be a
            # second data-residency tag on AWS and the same one on Azure.
            if key.lower() in RESERVED_TAGS:
                raise ValueError(f"tag '{key}' is set by the platform from the stack config (tags are compared case-insensitively); remove it")
            if key.lower() in seen:
                raise ValueError(f"tag '{key}' is given twice (Azure compares tag names case-insensitively); keep one")
            seen.add(key.lower())
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"tag '{key}' needs a non-empty string value")
            if len(key) > 128 or len(value) > 256:
                raise ValueError(f"tag '{key}' is too long (keys up to 128, values up to 256 characters)")
            if key.lower().startswith("aws:"):
                raise ValueError(f"tag '{key}' uses the reserved prefix 'aws:'")
        return self

    def extras(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.model_extra or {}).items()}

    def all(self) -> dict[str, str]:
        return {"cost-center": self.cost_center, "owner": self.owner, **self.extras()}


Email = Annotated[str, Field(pattern=_EMAIL.pattern, max_length=254)]


class BudgetConfig(_Model):
    amount: float = Field(gt=0, le=10_000_000)
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    # Alert thresholds in percent of the amount. AWS: an ACTUAL and a FORECASTED alert each (10 at
    # most per budget, AWS Budgets API Notification). Azure: an Actual alert each, Forecasted ones
    # in the slots left of its 5 (components/azure/budget.py).
    thresholds: list[Annotated[int, Field(gt=0, le=1000)]] = Field(default_factory=lambda: [80, 100], min_length=1, max_length=5)
    emails: list[Email] = Field(min_length=1, max_length=10)
    # First month the budget counts (YYYY-MM). Azure refuses a start before the current month,
    # so the default is the month of the first deploy; later changes are ignored.
    start_month: str | None = Field(None, alias="startMonth", pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    # Expected LLM traffic, for `python -m scripts cost` (tokens per month, input + output).
    expected_tokens_per_month: int | None = Field(None, alias="expectedTokensPerMonth", ge=0, le=10**13)

    @field_validator("thresholds")
    @classmethod
    def _unique(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("thresholds must be distinct")
        return sorted(v)

    def start_date(self, today: dt.date | None = None) -> str:
        if self.start_month:
            return f"{self.start_month}-01"
        today = today or dt.datetime.now(dt.UTC).date()
        return f"{today.year:04d}-{today.month:02d}-01"
