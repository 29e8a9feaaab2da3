from django.urls import path

from . import views

app_name = "opportunities"

urlpatterns = [
    path("", views.opportunity_list, name="opportunity-list"),
    path("new/", views.opportunity_create, name="opportunity-create"),
    path("board/", views.board_home, name="board-home"),
    path("board/<int:pipeline_id>/", views.board, name="board"),
    path("funnel/", views.funnel, name="funnel"),
    path("widgets/pipeline/", views.pipeline_widget, name="pipeline-widget"),
    path("<int:pk>/", views.opportunity_detail, name="opportunity-detail"),
    path("<int:pk>/edit/", views.opportunity_edit, name="opportunity-edit"),
    path("<int:pk>/advance/", views.opportunity_advance, name="opportunity-advance"),
    path("<int:pk>/close/", views.opportunity_close, name="opportunity-close"),
    path("<int:pk>/override/", views.override_request, name="override-request"),
    path("overrides/", views.override_list, name="override-list"),
    path("overrides/<int:pk>/decide/", views.override_decide, name="override-decide"),
    path("recommendations/<int:customer_id>/accept/", views.recommendation_accept, name="recommendation-accept"),
]
