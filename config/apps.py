from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """``config`` as an installed app only so that the commands that belong to the service as a
    whole (``housekeeping``) live beside the code they run. It has no models."""

    name = "config"
    verbose_name = "Service configuration"
