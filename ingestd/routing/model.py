"""The routing file (`config/routing.toml`): departments, categories, grades and rules.

Unknown keys are errors. Cross-references (a rule naming a department that does not exist, a grade
that is not in `grades`) are checked by the loader, which knows the file's lines.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ingestd.config.model_base import Strict

FIELDS = ("subject", "description", "attachments")


class Department(Strict):
    key: str
    name: str = ""
    inbox: str | None = None  # where routed cases are notified
    supervisor: str | None = None  # where escalations go
    addresses: list[str] = Field(default_factory=list)  # other addresses allowed to act for it


class Category(Strict):
    key: str
    name: str = ""


class Rule(Strict):
    """Conditions (all that are given must hold) and actions.

    Keyword lists search `fields` (default: subject and description). `any`: at least one keyword;
    `all`: every keyword; `none`: no keyword. CJK keywords match anywhere; Latin keywords match whole
    words only. Text and keywords are folded first (case, full/half width, Traditional/Simplified).
    """

    name: str
    # conditions
    any: list[str] = Field(default_factory=list)
    all: list[str] = Field(default_factory=list)
    none: list[str] = Field(default_factory=list)
    regex: list[str] = Field(default_factory=list)  # at least one must match (folded text)
    fields: list[Literal["subject", "description", "attachments"]] = Field(
        default_factory=lambda: ["subject", "description"])
    sender: list[str] = Field(default_factory=list)  # addresses, or "@domain" (subdomains included)
    mailbox: list[str] = Field(default_factory=list)  # the mailbox or folder the case came through
    channel: Literal["email", "letter"] | None = None
    attachment_any: list[str] = Field(default_factory=list)  # keywords in attachment file names
    repeat: bool | None = None  # true: only repeat complainants; false: only first-time complainants
    # actions
    weight: float = Field(default=1.0, ge=0)
    department: str | None = None
    category: str | None = None
    grade: str | None = None
    flags: list[str] = Field(default_factory=list)
    stop: bool = False  # when this rule fires, later rules are not looked at

    @field_validator("sender")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [v.strip().lower() for v in value]


class RoutingFile(Strict):
    default_department: str = "triage"
    grades: list[str] = Field(default_factory=lambda: ["major", "general", "minor"], min_length=1)  # highest first
    default_grade: str | None = None  # when no rule sets a grade; default: the lowest
    departments: list[Department] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)

    @property
    def lowest_grade(self) -> str | None:
        return self.grades[-1] if self.grades else None
