"""Gunicorn reads this file when it starts from the checkout (its default ``./gunicorn.conf.py``),
so a gunicorn started by hand, as the README's process file does, gets what ``make serve-prod``
gives its own: a worker timeout (``SERVE_WSGI_TIMEOUT``, 120 s, at least 90) above the longest
outbound deadline, so a slow ``yaml-url`` import ends as a failed import and never as a killed
worker (gunicorn's default, 30 s, killed it: an HTML 500), and persistent database connections
(``DB_PERSISTENT_SECONDS``, 300 s unless set). Command-line options still win."""

import os

from config.serve import wsgi_env, wsgi_timeout

timeout = wsgi_timeout()
os.environ.update(wsgi_env())  # adds only what is unset
