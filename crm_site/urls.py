from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from crm_site.health import healthz
from org.forms import SignInForm

urlpatterns = [
    path("healthz/", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=SignInForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("customers/", include("customers.urls")),
    path("segments/", include("customers.segment_urls")),
    path("interactions/", include("interactions.urls")),
    path("workbench/", include("interactions.workbench_urls")),
    path("quality/", include("customers.quality_urls")),
    path("opportunities/", include("opportunities.urls")),
    path("leads/", include("opportunities.lead_urls")),
    path("imports/", include("reports.import_urls")),
    path("exports/", include("reports.export_urls")),
    path("jobs/", include("reports.urls")),
    path("", include("org.urls")),
]
