from django.urls import path

from identities import views

app_name = "identities"

urlpatterns = [
    path("", views.identity_list, name="list"),
    path("new/", views.identity_create, name="create"),
    # Before "<pk>/", which would take "import" for an identity id.
    path("import/", views.import_upload, name="import-upload"),
    path("import/<str:pk>/", views.import_detail, name="import"),
    path("import/<str:pk>/confirm/", views.import_confirm, name="import-confirm"),
    path("import/<str:pk>/step/", views.import_step, name="import-step"),
    path("import/<str:pk>/jwts.zip", views.import_jwts, name="import-jwts"),
    path("bulk/", views.identity_bulk, name="bulk"),
    path("<str:pk>/", views.identity_detail, name="detail"),
    path("<str:pk>/jwt/", views.identity_jwt, name="jwt"),
    path("<str:pk>/delete/", views.identity_delete, name="delete"),
    path("<str:pk>/disable/", views.identity_set_disabled, {"disabled": True}, name="disable"),
    path("<str:pk>/enable/", views.identity_set_disabled, {"disabled": False}, name="enable"),
    path("<str:pk>/reissue/", views.identity_reissue, name="reissue"),
    path("<str:pk>/reset/", views.identity_reset, name="reset"),
    path(
        "<str:pk>/authenticators/<int:authenticator_pk>/revoke/",
        views.authenticator_revoke,
        name="revoke",
    ),
    path(
        "<str:pk>/authenticators/<int:authenticator_pk>/request-extend/",
        views.authenticator_request_extend,
        name="request-extend",
    ),
]
