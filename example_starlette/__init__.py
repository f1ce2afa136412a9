"""Starlette and FastAPI example apps for posthog-web (see README.md)."""
