"""The web face: dashboard, review queue, settings, /healthz, /metrics and WebSub callbacks.

Starlette, Jinja2 and uvicorn are imported only here and below, and only by the commands that
serve (`run` with WEB_PORT or PORT, `web`): the other commands never load them.
"""
