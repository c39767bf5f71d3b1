"""The session stage: a guided session from music to journal, live or rendered, and resumed.

Modules: `prepare` (options, plan and cues before the first sound), `live` (playing with keys,
nudges and journal saves), `journal` (past sessions and check-ins), `view` (the rich live view,
plain lines and key reading).
"""
