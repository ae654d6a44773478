"""The /api/ routes."""
from django.urls import path

from .apis import accounts, datasets, discovery, tasks

urlpatterns = [
    path("", discovery.ApiIndexApi.as_view(), name="api-index"),
    path("operations/", discovery.OperationCatalogueApi.as_view(), name="operation-catalogue"),
    path("register/", accounts.RegisterApi.as_view(), name="register"),
    path("login/", accounts.LoginApi.as_view(), name="login"),
    path("token/", accounts.TokenObtainApi.as_view(), name="token"),
    path("token/refresh/", accounts.TokenRefreshApi.as_view(), name="token-refresh"),
    path("logout/", accounts.LogoutApi.as_view(), name="logout"),
    path("me/", accounts.MeApi.as_view(), name="me"),
    path("upload-csv/", datasets.DatasetUploadApi.as_view(), name="upload-csv"),
    path("datasets/", datasets.DatasetListApi.as_view(), name="dataset-list"),
    path("datasets/<str:dataset_id>/", datasets.DatasetDetailApi.as_view(), name="dataset-detail"),
    path("datasets/<str:dataset_id>/preview", datasets.DatasetPreviewApi.as_view(), name="dataset-preview"),
    path("datasets/<str:dataset_id>/preview/", datasets.DatasetPreviewApi.as_view()),
    path("datasets/<str:dataset_id>/rows", datasets.DatasetRowsApi.as_view(), name="dataset-rows"),
    path("datasets/<str:dataset_id>/rows/", datasets.DatasetRowsApi.as_view()),
    path("datasets/<str:dataset_id>/share", datasets.DatasetShareApi.as_view(), name="dataset-share"),
    path("datasets/<str:dataset_id>/share/", datasets.DatasetShareApi.as_view()),
    path("datasets/<str:dataset_id>/share/<int:user_id>/", datasets.DatasetUnshareApi.as_view(), name="dataset-unshare"),
    path("perform-operation/", tasks.OperationSubmitApi.as_view(), name="perform-operation"),
    path("task-status/", tasks.TaskStatusApi.as_view(), name="task-status"),
    path("tasks/", tasks.TaskListApi.as_view(), name="task-list"),
    path("tasks/<str:task_id>/", tasks.TaskDetailApi.as_view(), name="task-detail"),
    path("tasks/<str:task_id>/rows", tasks.TaskRowsApi.as_view(), name="task-rows"),
    path("tasks/<str:task_id>/rows/", tasks.TaskRowsApi.as_view()),
    path("tasks/<str:task_id>/download/", tasks.TaskDownloadApi.as_view(), name="task-download"),
    path("tasks/<str:task_id>/cancel/", tasks.TaskCancelApi.as_view(), name="task-cancel"),
    path("tasks/<str:task_id>/share", tasks.TaskShareApi.as_view(), name="task-share"),
    path("tasks/<str:task_id>/share/", tasks.TaskShareApi.as_view()),
    path("tasks/<str:task_id>/share/<int:user_id>/", tasks.TaskUnshareApi.as_view(), name="task-unshare"),
    path("tasks/<str:task_id>/save-as-dataset", tasks.TaskSaveAsDatasetApi.as_view(), name="task-save-as-dataset"),
    path("tasks/<str:task_id>/save-as-dataset/", tasks.TaskSaveAsDatasetApi.as_view()),
]
