"""The guide stage: prompts placed on the music's phrases, and the voice that speaks them.

Modules: `prompts` (prompt packs as TOML data), `schedule` (placing prompts on the timeline),
`voice` (Piper, espeak-ng or printed prompts, with a cache and a background renderer).
"""
