from django.apps import AppConfig


class UploadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "uploads"

    def ready(self) -> None:
        from config.housekeeping import register_task
        from uploads.services import upload_files_purge_orphans, upload_files_purge_unused

        register_task("unused uploads purged", upload_files_purge_unused)
        register_task("stored files no upload owns removed", upload_files_purge_orphans)
