import zoneinfo

from django.utils import timezone, translation


class UserTimezoneMiddleware:
    """Show times in the signed-in user's own time zone (stored UTC, rendered local)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tz_name = getattr(getattr(request, "user", None), "time_zone", None)
        if tz_name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tz_name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)


class UserLanguageMiddleware:
    """Show the UI in the signed-in user's own language (`User.language`).

    Runs after AuthenticationMiddleware (it needs `request.user`), so it overrides what
    LocaleMiddleware picked from the Accept-Language header or the language cookie; anonymous
    visitors, such as the log-in page, keep that choice. LocaleMiddleware's response half then
    reports the language actually used in Content-Language.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            try:
                language = translation.get_supported_language_variant(user.language)
            except LookupError:
                # A language we ship no translation for: keep the browser's choice.
                language = None
            if language:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)
