from django.apps import AppConfig


class TelephonyConfig(AppConfig):
    name = "telephony"
    verbose_name = "Telephony"

    def ready(self) -> None:
        from telephony import subscribers  # noqa: F401  (registers event subscribers)
        from telephony.config_cache import connect_receivers

        connect_receivers()  # cache invalidation only: no business rules in receivers
