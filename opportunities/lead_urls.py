from django.urls import path

from . import lead_views as views

app_name = "leads"

urlpatterns = [
    path("", views.lead_list, name="lead-list"),
    path("new/", views.lead_create, name="lead-create"),
    path("widget/", views.leads_widget, name="leads-widget"),
    path("<int:pk>/", views.lead_detail, name="lead-detail"),
    path("<int:pk>/assign/", views.lead_assign, name="lead-assign"),
    path("<int:pk>/contacted/", views.lead_contacted, name="lead-contacted"),
    path("<int:pk>/qualify/", views.lead_qualify, name="lead-qualify"),
    path("<int:pk>/disqualify/", views.lead_disqualify, name="lead-disqualify"),
    path("<int:pk>/convert/", views.lead_convert, name="lead-convert"),
    path("<int:pk>/reveal/<str:field>/", views.lead_reveal, name="lead-reveal"),
    path("rules/", views.rule_list, name="rule-list"),
    path("rules/new/", views.rule_edit, name="rule-create"),
    path("rules/<int:pk>/", views.rule_edit, name="rule-edit"),
    path("referrals/", views.referral_list, name="referral-list"),
    path("referrals/report/", views.referral_report, name="referral-report"),
    path("referrals/customer/<int:customer_id>/", views.referral_create, name="referral-create"),
]
