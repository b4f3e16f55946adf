"""ASGI entry point: Channels routes the SSE consumers; everything else goes to Django."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Django must be set up before consumers (and the models they import) are loaded.
django_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from apps_runtime.routing import sse_patterns  # noqa: E402
from config.body_limit import BodySizeLimit  # noqa: E402
from config.daphne_body_limit import install as install_daphne_body_limit  # noqa: E402
from config.daphne_send_limit import install as install_daphne_send_limit  # noqa: E402
from config.housekeeping import start_background  # noqa: E402

start_background()
install_daphne_body_limit()  # daphne reads whole bodies before calling us: refuse them earlier
install_daphne_send_limit()  # ... and buffers whatever we send: drop streams nobody reads

application = BodySizeLimit(
    ProtocolTypeRouter(
        {
            "http": URLRouter(
                [*sse_patterns, re_path(r"", django_app)]  # type: ignore[arg-type]
            ),
        }
    )
)
