#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    try:
        _preflight(sys.argv[1:2])
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad environment value: say which, without a traceback.
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
    except OperationalError as exc:
        # An unreachable database: one line naming it and the cause, without a traceback.
        from config.dbcheck import unreachable_reason

        sys.stderr.write(unreachable_reason(exc) + "\n")
        sys.exit(2)


# Commands that never open the database.
NO_DATABASE = {"help", "--help", "-h", "version", "--version", "collectstatic", "check"}


def _preflight(command: list[str]) -> None:
    """A PostgreSQL that cannot be reached: one line naming it and why, before the command runs
    (not the pool's ten-second wait and traceback)."""
    from django.conf import settings

    if not settings.DATABASE_URL or set(command) & NO_DATABASE:
        return
    from config.dbcheck import preflight

    reason = preflight()
    if reason:
        sys.stderr.write(reason + "\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
