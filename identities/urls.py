from django.urls import path

from identities import views

app_name = "identities"

urlpatterns = [
    path("", views.identity_list, name="list"),
    path("new/", views.identity_create, name="create"),
    path("<str:pk>/", views.identity_detail, name="detail"),
    path("<str:pk>/jwt/", views.identity_jwt, name="jwt"),
    path("<str:pk>/delete/", views.identity_delete, name="delete"),
    path("<str:pk>/disable/", views.identity_set_disabled, {"disabled": True}, name="disable"),
    path("<str:pk>/enable/", views.identity_set_disabled, {"disabled": False}, name="enable"),
]
