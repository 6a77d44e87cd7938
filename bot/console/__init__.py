"""The web console for support agents, marketers and admins (FastAPI + Jinja2 + htmx), mounted at /console."""
