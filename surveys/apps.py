from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        # Lower apps never import surveys: they offer hooks and events, registered here.
        from crm.events import subscribe
        from surveys.services.ivr import ivr_after_call
        from surveys.subscribers import on_event
        from telephony.services.after_call import after_call_register

        after_call_register(ivr_after_call)
        subscribe(on_event)
