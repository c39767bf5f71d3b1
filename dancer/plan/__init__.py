"""The plan stage: lay analysed tracks on a session timeline that follows an arc.

Modules: `arcs` (arcs as TOML data), `objective` (what a good plan is), `search` (the beam
search and local improvement that find one), `planner` (make and re-plan plans), `playlist`
(M3U8 read/write with ``#DANCER`` lines), `preview` (the plan as a table and an energy chart).
"""
