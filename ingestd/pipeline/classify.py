"""classify: which department, category and grade. A pure function of the parsed input and the config.

Until routing rules are configured every case goes to the default (triage) department; the routing
module plugs in here through the `Classifier` protocol.
"""

from __future__ import annotations

from typing import Protocol

from ingestd.pipeline.items import Classification, Parsed


class Classifier(Protocol):
    def classify(self, parsed: Parsed) -> Classification: ...


class DefaultDepartment:
    def __init__(self, department: str) -> None:
        self.department = department

    def classify(self, parsed: Parsed) -> Classification:
        return Classification(department=self.department, decided_by="default")
