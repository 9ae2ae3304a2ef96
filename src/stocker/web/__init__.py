"""The web app (Jinja2 + HTMX, server-rendered): pages parse, call one use case or read model,
render. Mounted by the API's application factory."""
