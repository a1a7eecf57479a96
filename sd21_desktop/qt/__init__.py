"""The Qt glue: the engine worker thread, the job queue and the list models.

Imports torch only lazily, inside the worker thread.
"""
