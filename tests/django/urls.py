"""URLs for the Django integration tests."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from tests.django import views

urlpatterns = [
    path("", views.home, name="home"),
    path("async/", views.async_home, name="async-home"),
    path("long-page/", views.long_page),
    path("products/<int:pk>/", views.product, name="product"),
    path("pricing/", views.PricingView.as_view(), name="pricing"),
    path("named/", views.named),
    path("named-twice/", views.named_twice),
    path("forced/", views.forced),
    path("buy/", views.buy),
    path("async-buy/", views.async_buy),
    path("service/", views.service),
    path("api/", views.api),
    path("redirect/", views.redirect),
    path("error/", views.error),
    path("missing/", views.not_found),
    path("stream/", views.stream),
    path("session/", views.uses_session),
    path("user/", views.uses_user),
    path("async-user/", views.async_uses_user),
    path("whoami/", views.whoami),
    path("boom/", views.boom),
    path("health/", views.home),
    path("robots.txt", views.home),
    path("favicon.ico", views.home),
    path("sitemap.xml", views.home),
    re_path(r"^\.well-known/.*$", views.home),
    path("static/app.html", views.home),
    path("media/upload.html", views.home),
    path("admin-area/", views.home),
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/"), name="logout"),
]
