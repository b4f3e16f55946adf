from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created

# SQLite's LIKE and lower() fold ASCII only; this function lets name filters fold any letter.
SQLITE_CASEFOLD = "app_casefold"


def _register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_CASEFOLD,
            1,
            lambda text: None if text is None else text.casefold(),
            deterministic=True,
        )


class AppsRuntimeConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps_runtime"
    verbose_name = "Apps"

    def ready(self) -> None:
        from apps_runtime.events import event_logs_purge
        from config.housekeeping import register_task

        connection_created.connect(_register_sqlite_functions)
        register_task("expired run event streams purged", event_logs_purge)

        from apps_runtime.runs.services import runs_fail_stale, runs_resume_retry

        register_task("stale runs failed", runs_fail_stale)
        register_task("answered paused runs resubmitted", runs_resume_retry)
        register_task("expired pending DSL imports dropped", _import_pending_expire)

        from apps_runtime.forms.runflow import PAUSE_HOOKS
        from apps_runtime.forms.services import forms_expire_overdue
        from apps_runtime.runs.pausing import pause_hooks_register

        register_task("overdue human-input forms expired", forms_expire_overdue)
        # The run layer reaches human input only through this hook (forms → runs, one way).
        pause_hooks_register(PAUSE_HOOKS)


def _import_pending_expire() -> int:
    from apps_runtime.transfer.imports import import_pending_expire

    return import_pending_expire()
