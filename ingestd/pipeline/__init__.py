"""The intake pipeline: one declared order of named stages.

    receive → parse → thread → classify → record → respond

Each stage lives in the module of the same name. `receive` and `parse` are pure and may run in worker
processes; `thread`, `classify`, `record` and `respond` run inside the input's transaction.
The runner that drives them is `ingestd.pipeline.runner.Intake`.
"""

STAGES: tuple[str, ...] = ("receive", "parse", "thread", "classify", "record", "respond")
