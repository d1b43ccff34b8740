import re

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _


class LanguageMiddleware:
    """Chinese unless the user chose otherwise with the language switch (a cookie).

    Django's LocaleMiddleware would follow the browser's Accept-Language; a government office's
    browsers are often set to English while the office works in Chinese, so the default is the site's.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.languages = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language not in self.languages:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class SecurityHeadersMiddleware:
    """Content-Security-Policy without inline scripts, and the other headers a browser should get.

    Scripts come only from this site (htmx, ECharts and our own files are all vendored); inline
    ``style`` attributes are allowed (ECharts and htmx set them), inline ``<script>`` is not.
    """

    POLICY = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", self.POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(self), geolocation=(self), microphone=()")
        response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        return response


class RefuseNulMiddleware:
    """Refuse a request that carries a NUL character (``\\x00``) in its text.

    PostgreSQL text cannot hold NUL: a search term, form field or JSON string with one would reach a
    query and fail there with a server error (SQLite would store it). No text in this system has a
    use for it, so the request is refused in one place, before any view: the path, the query string,
    the form fields (not uploaded files, whose bytes are the importer's to judge) and JSON bodies.
    Pages answer 400, the API 422 (as for any other invalid input), Open311 its error list.
    """

    JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self.carries_nul(request):
            message = _("The request contains a NUL character (0x00), which no field accepts.")
            if request.path.startswith("/api/"):  # as django-ninja answers any other invalid input
                return JsonResponse({"detail": str(message)}, status=422)
            if request.path.startswith("/open311/"):  # GeoReport v2's error list
                return JsonResponse([{"code": 400, "description": str(message)}], status=400, safe=False)
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)

    def carries_nul(self, request) -> bool:
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
            return True
        if any("\x00" in value for values in request.GET.lists() for value in values[1]):
            return True
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return False
        content_type = request.content_type or ""
        if content_type == "application/json" or content_type.endswith("+json"):
            return b"\x00" in request.body or bool(self.JSON_NUL.search(request.body))
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            return any("\x00" in value for _key, values in request.POST.lists() for value in values)
        return False
