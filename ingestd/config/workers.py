"""`[workers]`: several `ingestd run` workers on one PostgreSQL register (see README, "Running several workers").

```toml
[workers]
lease_seconds = 30      # a dead worker's sources are taken over this long after its last renewal
renew_seconds = 10      # how often a worker renews its leases (default: a third of lease_seconds)
```

A worker's id is `hostname:pid:random`, made at start: unique per process, so that no configuration mistake can
give two workers the same name (and both the same leases).
"""

from __future__ import annotations

from pydantic import Field, model_validator

from ingestd.config.model_base import Strict


class WorkersConfig(Strict):
    lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    renew_seconds: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _renew_well_inside_the_lease(self) -> WorkersConfig:
        # a renewal that comes late by one slow transaction must still come before the lease runs out
        if self.renew_seconds is not None and self.renew_seconds > self.lease_seconds / 2:
            raise ValueError(f"renew_seconds ({self.renew_seconds:g}) must be at most half of lease_seconds "
                             f"({self.lease_seconds:g}), or a slow renewal lets the lease lapse")
        return self

    @property
    def renew_interval(self) -> float:
        return self.renew_seconds if self.renew_seconds is not None else self.lease_seconds / 3
