"""The library stage: scan a folder into SQLite, keep the tracks and folders it knows, repair it.

Modules: `store` (the SQLite library), `folders` (the folders a library has scanned), `scan`
(find, decode and analyse files in worker processes), `repair` (rebuild a damaged library).
"""
