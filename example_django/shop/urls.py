from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from shop import views

urlpatterns = [
    path("", views.home, name="home"),
    path("pricing/", views.pricing, name="pricing"),
    path("products/<int:pk>/", views.product, name="product"),
    path("products/<int:pk>/buy/", views.buy, name="buy"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("internal/health/", views.health, name="health"),
]
