"""The run engine: walks an app's graph (or prompt) and knows nothing about HTTP or the database.

Its host (the run layer) is reached only through :class:`apps_runtime.engine.host.EngineHost`.
"""
