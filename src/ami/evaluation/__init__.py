"""Evaluation: versioned protocols, the runner (agent and random floor, same episodes), reports.

`eval_protocol` (the contract: which world, which start/goal pairs, what budget, what success),
`protocols` (the built-in protocols and their registry; the cube's in `cube_protocols`),
`episode_specs` (a protocol's episodes drawn), `runner` (`evaluate`), `report` (the HTML page),
`plots` and `episodes_gif`. Nothing is imported here, so
importing one module does not pull in the others' dependencies.
"""
