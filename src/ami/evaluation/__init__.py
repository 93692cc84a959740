"""Evaluation: versioned protocols, the runner (agent and random floor, same episodes), reports.

`protocols` (which world, which start/goal pairs, what budget, what success), `runner`
(`evaluate`), `report` (the HTML page), `plots` and `episodes_gif`. Nothing is imported here, so
importing one module does not pull in the others' dependencies.
"""
