from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path, re_path
from django.views.static import serve

from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("pricing/", views.pricing, name="pricing"),
    path("products/<int:pk>/", views.product, name="product"),
    path("products/<int:pk>/buy/", views.buy, name="buy"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("api/products/", views.api_products, name="api-products"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("internal/health/", views.health, name="health"),
]

if settings.POSTHOG_JS_DIST.is_dir():
    # The app's own copy of posthog-js, loaded by {% posthog_snippet %} (any static files
    # setup works; this keeps the example free of collectstatic).
    urlpatterns.append(
        re_path(
            r"^static/posthog-js/(?P<path>.*)$",
            serve,
            {"document_root": settings.POSTHOG_JS_DIST},
        )
    )
