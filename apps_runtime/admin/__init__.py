"""Admin for the app catalog.

Apps (DSL import and export, service-API switch, access mode), tags, and workflow versions
(read-only, with a publish action); runs with their node executions and messages (read-only,
with stop and fail actions). Importing the modules registers them.
"""

from apps_runtime.admin import app_admin, catalog_admin, import_admin
from apps_runtime.forms import admin as forms_admin
from apps_runtime.providers import admin as provider_admin
from apps_runtime.runs import admin as runs_admin
from apps_runtime.tools import admin as tools_admin

__all__ = [
    "app_admin",
    "catalog_admin",
    "forms_admin",
    "import_admin",
    "provider_admin",
    "runs_admin",
    "tools_admin",
]
