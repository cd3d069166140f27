from django.urls import path

from authorities import views

app_name = "authorities"

urlpatterns = [
    path("", views.ca_list, name="list"),
    path("new/", views.ca_create, name="create"),
    path("<str:pk>/", views.ca_detail, name="detail"),
    path("<str:pk>/verify/", views.ca_verify, name="verify"),
    path("<str:pk>/edit/", views.ca_edit, name="edit"),
    path("<str:pk>/jwt/", views.ca_jwt, name="jwt"),
    path("<str:pk>/delete/", views.ca_delete, name="delete"),
]
