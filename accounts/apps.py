from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts.services import access_tokens_expire_overdue
        from config.housekeeping import register_task

        register_task("overdue access tokens expired", access_tokens_expire_overdue)
