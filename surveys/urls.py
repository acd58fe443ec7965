"""Public survey pages, the IVR survey webhook and the staff results pages (site root)."""

from django.urls import path

from surveys import views, webhooks

app_name = "surveys"

urlpatterns = [
    path("s/<str:token>/", views.web_survey, name="web"),
    path(
        "hooks/twilio/voice/survey/<int:response_id>/<slug:step_key>/<int:attempt>/",
        webhooks.ivr_answer,
        name="ivr-answer",
    ),
    path(
        "hooks/twilio/voice/survey/consent/<int:call_id>/<int:setting_id>/",
        webhooks.ivr_consent,
        name="ivr-consent",
    ),
    path("surveys/<int:survey_id>/results/", views.results, name="results"),
    path("surveys/<int:survey_id>/results/export.csv", views.results_export, name="export"),
]
