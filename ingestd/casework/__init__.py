"""A case's life after intake: working-time deadlines, repeat complaints, department actions, reminders and
escalation, return visits. `calendar`, `policy`, `repeats` and `commands` are pure; `actions` changes a case in
the caller's transaction; `responders` hook actions into intake; `reminders` is the scheduled sweep."""
