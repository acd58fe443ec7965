from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm import views as crm_views

urlpatterns = [
    path("", crm_views.home, name="home"),
    path("healthz", crm_views.healthz, name="healthz"),
    # The UI's JavaScript strings (static/js/shortcuts.js) in the user's language.
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("accounts/", include("crm.urls")),
    path("admin/", admin.site.urls),
    path("hooks/twilio/voice/", include("telephony.urls")),
    path("hooks/email/", include("channels_inbox.email_urls")),
    path("", include("channels_inbox.urls")),
    path("", include("surveys.urls")),
    path("api/v1/telephony/", include("telephony.api_urls")),
    path("api/v1/calls/", include("telephony.incall_urls")),
    path("api/v1/", include("channels_inbox.api.urls")),
    path("api/v1/", include("surveys.api_urls")),
    path("api/v1/", include("crm.api.urls")),
    path("telephony/", include("telephony.token_urls")),
    path("", include("contactcenter.workspace.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

admin.site.site_header = "Contact center administration"
admin.site.site_title = "Contact center"
