"""The gallery: PNG files with their requests inside (the source of truth) and a SQLite index.

No Qt widgets here; the engine is imported only for its request types.
"""
