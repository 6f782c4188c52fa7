"""Routing: which department, category and grade a case gets, by keyword rules admins keep in a TOML file.

    model.py    the routing file's shape (pydantic, strict)
    text.py     folding that fits Chinese: NFKC width folding, case folding, Traditional → Simplified
    matcher.py  every keyword of every rule in one Aho-Corasick automaton, built once at load
    engine.py   the Router: a pure function of (parsed input, rules) → Classification with its reasons
    loader.py   loading and checking the file, with `file:line: problem`
    reload.py   hot reload: a bad edit is refused and the last good rules stay in force
    explain.py  a decision shown to a person, matched words highlighted
"""
