import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.body_limit import WSGIChunkedBody  # noqa: E402 (after Django is set up)

# A chunked body is read (bounded) before Django, which would read it as empty (issue 16).
application = WSGIChunkedBody(application)  # type: ignore[assignment]

from config.housekeeping import start_background  # noqa: E402

start_background()
