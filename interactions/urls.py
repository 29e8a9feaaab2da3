from django.urls import path

from . import views

app_name = "interactions"

urlpatterns = [
    path("customer/<int:customer_id>/log/", views.interaction_log, name="interaction-log"),
    path("customer/<int:customer_id>/timeline/", views.timeline_rows, name="timeline-rows"),
    path("customer/<int:customer_id>/message/", views.message_send, name="message-send"),
    path("<int:pk>/", views.interaction_detail, name="interaction-detail"),
    path("<int:pk>/correct/", views.interaction_correct, name="interaction-correct"),
    path("<int:pk>/void/", views.interaction_void, name="interaction-void"),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/agenda/", views.task_agenda, name="task-agenda"),
    path("tasks/new/", views.task_create, name="task-create"),
    path("tasks/<int:pk>/", views.task_detail, name="task-detail"),
    path("tasks/<int:pk>/done/", views.task_complete, name="task-complete"),
    path("tasks/<int:pk>/cancel/", views.task_cancel, name="task-cancel"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/bell/", views.notification_bell, name="notification-bell"),
    path("notifications/read-all/", views.notification_read_all, name="notification-read-all"),
    path("notifications/settings/", views.notification_preferences, name="notification-preferences"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification-open"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification-read"),
    path("dictionary/", views.data_dictionary, name="data-dictionary"),
]
