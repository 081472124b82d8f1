"""The browser pages: Jinja templates with htmx, served by the same app."""
