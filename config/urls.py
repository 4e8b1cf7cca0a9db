from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.views import SpectacularAPIView

urlpatterns = [
    path("", include("requests_app.urls")),
    path("bases-legales/", include("legal_basis.urls")),
    path("audit/", include("audit.urls")),
    # The DPO's desk: register of disclosures, figures, retention.
    path("protection-des-donnees/", include("dpo.urls")),
    path("statistiques/", include("dpo.statistics_urls")),
    path("conservation/", include("dpo.retention_urls")),
    path("api/", include("requests_app.api_urls")),
    # JSON first, so that its errors (401, 405) are JSON like the rest of /api/;
    # ?format=yaml still gives the YAML schema.
    path(
        "api/schema/",
        SpectacularAPIView.as_view(
            renderer_classes=[
                OpenApiJsonRenderer2,
                OpenApiJsonRenderer,
                OpenApiYamlRenderer,
                OpenApiYamlRenderer2,
            ]
        ),
        name="api-schema",
    ),
    path(
        "connexion/",
        # FormView would treat PUT as POST: only the methods the page serves.
        auth_views.LoginView.as_view(
            redirect_authenticated_user=True, http_method_names=["get", "post", "options"]
        ),
        name="login",
    ),
    path("deconnexion/", auth_views.LogoutView.as_view(), name="logout"),
    path("compte/", include("accounts.urls")),
    path("compte/webauthn/", include("django_otp_webauthn.urls")),
    path("admin/", admin.site.urls),
    # Browsers ask for /favicon.ico whatever the page links to.
    path(
        "favicon.ico",
        RedirectView.as_view(
            url=lazy(static, str)("favicon.ico"),
            permanent=True,
            http_method_names=["get", "head"],
        ),
        name="favicon",
    ),
]

# JSON under /api/, the French pages elsewhere (config/errors.py). A database
# outage noticed outside a view (saving the session) is a 503 too.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
