import os
import sys

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.body_limit import WSGIChunkedBody  # noqa: E402 (after Django is set up)

# A chunked body is read (bounded) before Django, which would read it as empty (issue 16).
application = WSGIChunkedBody(application)  # type: ignore[assignment]
from config.wsgi_streaming import WSGIStreamingPathHint  # noqa: E402

# The SSE routes live on daphne: say so instead of a bare 404 (issue 22).
application = WSGIStreamingPathHint(application)  # type: ignore[assignment]
from django.conf import settings  # noqa: E402

from config.housekeeping import start_background  # noqa: E402

start_background()

if settings.RUN_EXECUTOR == "thread" and "gunicorn" in sys.modules:
    # Issue 17, item 4: a job in a request worker dies with the worker's timeout.
    sys.stderr.write(
        "warning: RUN_EXECUTOR=thread under gunicorn: run and resume jobs (a form's answer too) "
        "execute inside request workers, whose timeout kills them; use RUN_EXECUTOR=celery with "
        "workers (make serve-prod does)\n"
    )
