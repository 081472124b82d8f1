"""The API's own documentation page, served from the project's static files."""

from __future__ import annotations

from litestar.openapi.plugins import SwaggerRenderPlugin


def swagger_ui() -> SwaggerRenderPlugin:
    """Swagger UI from the project's own static files: a bank's network is often offline, and the default would
    fetch the bundle and the favicon from a CDN."""
    return SwaggerRenderPlugin(
        js_url="/static/vendor/swagger-ui-bundle.js",
        css_url="/static/vendor/swagger-ui.css",
        standalone_preset_js_url="/static/vendor/swagger-ui-standalone-preset.js",
        favicon="<link rel='icon' type='image/png' href='/static/vendor/swagger-favicon-32x32.png'>",
    )
