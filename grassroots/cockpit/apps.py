from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CockpitConfig(AppConfig):
    name = "grassroots.cockpit"
    label = "cockpit"
    verbose_name = _("City brain")

    def ready(self) -> None:
        # Each module declares its indicators in its own ``indicators`` module.
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("indicators")
