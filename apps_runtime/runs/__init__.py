"""Runs of apps (issue 9): run/conversation/message rows, the run-start and stop services, the
executor and its jobs, the engine host, and the SSE consumers of ``run`` and ``events``."""
