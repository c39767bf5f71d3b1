"""The audio stage: render a session timeline, in real time to a device or offline to a file.

Modules: `timeline` (what plays when), `mixer` (block-by-block rendering with crossfades and
ducking), `limiter`, `render` (to a file), `player` (the real-time sounddevice player).
"""
