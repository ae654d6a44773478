"""The web app's routes, under /app/."""
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="app-home"),
    path("login/", views.login_view, name="app-login"),
    path("register/", views.register_view, name="app-register"),
    path("logout/", views.logout_view, name="app-logout"),
    path("upload/", views.upload, name="app-upload"),
    path("datasets/<str:dataset_id>/", views.dataset_page, name="app-dataset"),
    path("datasets/<str:dataset_id>/share/", views.dataset_share_view, name="app-dataset-share"),
    path("operation-form/", views.operation_form, name="app-operation-form"),
    path("run/", views.run_operation, name="app-run"),
    path("tasks/", views.task_list, name="app-tasks"),
    path("tasks/<str:task_id>/", views.task_page, name="app-task"),
    path("tasks/<str:task_id>/progress/", views.task_progress, name="app-task-progress"),
    path("tasks/<str:task_id>/download/", views.task_download, name="app-task-download"),
    path("tasks/<str:task_id>/cancel/", views.task_cancel_view, name="app-task-cancel"),
    path("tasks/<str:task_id>/save/", views.task_save, name="app-task-save"),
    path("tasks/<str:task_id>/share/", views.task_share_view, name="app-task-share"),
]
