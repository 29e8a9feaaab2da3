"""The roles of the bank's staff: one Group each, what kind of action each may take, and how far it sees.

Global permissions say what kind of action a role may take; org/scoping.py says on which rows.
Group names are the stable codes below (admins see the translated label).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    RELATIONSHIP_MANAGER = "relationship_manager", _("Relationship manager")
    BRANCH_MANAGER = "branch_manager", _("Branch manager")
    RISK_OFFICER = "risk_officer", _("Risk officer")
    SERVICE_AGENT = "service_agent", _("Service agent")
    MARKETING = "marketing", _("Marketing staff")
    OPERATIONS = "operations", _("Operations staff")
    COMPLIANCE_AUDITOR = "compliance_auditor", _("Compliance auditor")
    ADMINISTRATOR = "administrator", _("Administrator")


class Reach(models.TextChoices):
    """How far a role sees; a user with several roles gets the widest."""

    OWN = "own", _("Own customers and explicit grants")
    BRANCH = "branch", _("The home branch and everything under it")


ROLE_REACH: dict[str, str] = {
    Role.RELATIONSHIP_MANAGER: Reach.OWN,
    Role.BRANCH_MANAGER: Reach.BRANCH,
    Role.RISK_OFFICER: Reach.BRANCH,
    Role.SERVICE_AGENT: Reach.BRANCH,
    Role.MARKETING: Reach.BRANCH,
    Role.OPERATIONS: Reach.BRANCH,
    Role.COMPLIANCE_AUDITOR: Reach.BRANCH,
    Role.ADMINISTRATOR: Reach.BRANCH,
}

# "app_label.codename" per role. Later apps add theirs in a data migration of their own through
# sync_role_permissions(), so each app states what its roles may do next to its models.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.RELATIONSHIP_MANAGER: [
        "customers.view_customer",
        "customers.add_customer",
        "customers.change_customer",
        "customers.reveal_customer_pii",
        "customers.add_customertag",
        "customers.delete_customertag",
        "customers.view_segment",
        "interactions.view_interaction",
        "interactions.add_interaction",
        "interactions.change_interaction",
        "interactions.send_customer_message",
        "interactions.view_task",
        "interactions.add_task",
        "interactions.change_task",
        "interactions.view_notification",
        "interactions.use_workbench",
    ],
    Role.BRANCH_MANAGER: [
        "customers.view_customer",
        "customers.add_customer",
        "customers.change_customer",
        "customers.share_customer",
        "customers.reveal_customer_pii",
        "customers.export_customer",
        "customers.merge_customer",
        "customers.add_customertag",
        "customers.delete_customertag",
        "customers.view_segment",
        "customers.add_segment",
        "customers.change_segment",
        "org.view_user",
        "interactions.view_interaction",
        "interactions.add_interaction",
        "interactions.change_interaction",
        "interactions.send_customer_message",
        "interactions.view_task",
        "interactions.add_task",
        "interactions.change_task",
        "interactions.view_notification",
        "interactions.use_workbench",
        "interactions.assign_task",
        "interactions.view_team_work",
    ],
    Role.RISK_OFFICER: [
        "customers.view_customer",
        "customers.view_segment",
        "interactions.view_interaction",
        "interactions.view_notification",
    ],
    Role.SERVICE_AGENT: [
        "customers.view_customer",
        "customers.reveal_customer_pii",
        "interactions.view_interaction",
        "interactions.add_interaction",
        "interactions.change_interaction",
        "interactions.view_task",
        "interactions.add_task",
        "interactions.change_task",
        "interactions.view_notification",
    ],
    Role.MARKETING: [
        "customers.view_customer",
        "customers.export_customer",
        "customers.view_segment",
        "customers.add_segment",
        "customers.change_segment",
        "customers.add_customertag",
        "customers.delete_customertag",
        "interactions.view_notification",
    ],
    Role.OPERATIONS: [
        "customers.view_customer",
        "customers.export_customer",
        "customers.merge_customer",
        "interactions.view_notification",
    ],
    Role.COMPLIANCE_AUDITOR: [
        "org.view_auditentry",
        "customers.view_customer",
        "interactions.view_interaction",
        "interactions.view_task",
    ],
    Role.ADMINISTRATOR: [
        "customers.view_customer",
        "customers.change_customer",
        "customers.view_product",
        "customers.add_product",
        "customers.change_product",
        "customers.view_tag",
        "customers.add_tag",
        "customers.change_tag",
        "customers.view_tierthreshold",
        "customers.change_tierthreshold",
        "customers.view_segment",
        "org.view_user",
        "org.add_user",
        "org.change_user",
        "org.view_branch",
        "org.add_branch",
        "org.change_branch",
        "auth.view_group",
        "auth.change_group",
        "reports.view_jobrun",
        "reports.run_job",
        "interactions.view_interaction",
        "interactions.view_task",
        "interactions.view_outboundmessage",
        "interactions.view_developmentsms",
        "interactions.view_notification",
        "django_celery_beat.view_periodictask",
        "django_celery_beat.change_periodictask",
        "django_celery_beat.add_periodictask",
        "django_celery_beat.view_crontabschedule",
        "django_celery_beat.add_crontabschedule",
        "django_celery_beat.change_crontabschedule",
        "django_celery_beat.view_intervalschedule",
        "django_celery_beat.add_intervalschedule",
        "django_celery_beat.change_intervalschedule",
    ],
}


def sync_role_permissions(apps, role_permissions: dict[str, list[str]]) -> None:
    """Create the role Groups and grant them the listed permissions (used by data migrations).

    Permissions are normally created after all migrations run; a data migration creates the ones
    it needs first so it can grant them on a fresh database.
    """
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, perms in role_permissions.items():
        group, _created = group_model.objects.get_or_create(name=str(role))
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            # A permission of a model a later migration creates does not exist yet; that app's own
            # migration runs this again once it does.
            permission = permission_model.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is not None:
                group.permissions.add(permission)


# RFM scores (customers issue 8): the 360° panel and the RFM report.
for _role in (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.MARKETING, Role.ADMINISTRATOR):
    ROLE_PERMISSIONS[_role].append("customers.view_rfmscore")

# Data-quality issues (customers issue 8): the work queue and the 360° panel; resolving is a change.
for _role in (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.RISK_OFFICER, Role.OPERATIONS, Role.ADMINISTRATOR):
    ROLE_PERMISSIONS[_role].append("customers.view_dataqualityissue")
for _role in (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.OPERATIONS):
    ROLE_PERMISSIONS[_role].append("customers.change_dataqualityissue")

# Opportunities and pipelines (issue 7): RMs and branch managers work opportunities, branch managers
# approve suitability overrides, administrators configure pipelines and stages in admin.
for _role in (Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER):
    ROLE_PERMISSIONS[_role] += ["opportunities.view_opportunity", "opportunities.add_opportunity",
                                "opportunities.change_opportunity", "opportunities.view_pipeline"]
ROLE_PERMISSIONS[Role.BRANCH_MANAGER] += ["opportunities.approve_suitability_override",
                                          "opportunities.view_funnel"]
# Risk officers and auditors read opportunities and their suitability overrides (never change them).
for _role in (Role.COMPLIANCE_AUDITOR, Role.RISK_OFFICER):
    ROLE_PERMISSIONS[_role] += ["opportunities.view_opportunity", "opportunities.view_pipeline"]
ROLE_PERMISSIONS[Role.ADMINISTRATOR] += [
    "opportunities.view_pipeline", "opportunities.add_pipeline", "opportunities.change_pipeline",
    "opportunities.view_stage", "opportunities.add_stage", "opportunities.change_stage",
    "opportunities.delete_stage", "opportunities.view_opportunity", "opportunities.view_funnel",
]

# Bulk import and export (issue 5): operations staff and administrators; relationship managers never.
for _role in (Role.OPERATIONS, Role.ADMINISTRATOR):
    ROLE_PERMISSIONS[_role] += ["reports.view_importjob", "reports.import_data"]

# Duplicate review (customers issue 8): branch managers and operations staff work the queue.
for _role in (Role.BRANCH_MANAGER, Role.OPERATIONS):
    ROLE_PERMISSIONS[_role] += ["customers.view_duplicatecandidate", "customers.change_duplicatecandidate"]

# Exports (issue 5): the customer list's export checks customers.export_customer, the model permission
# django-import-export's admin checks too (IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "export"), so the page
# and the admin's button agree. Administrators get it here; RMs never export.
ROLE_PERMISSIONS[Role.ADMINISTRATOR] += ["customers.export_customer", "reports.view_exportjob"]

# Leads, assignment rules and referrals (issue 7): RMs work and convert their leads; branch managers
# assign by hand, keep the rules and specialists, and see referral conversion; service agents (tellers)
# and RMs refer customers; operations record imported leads.
_LEAD_WORK = ["opportunities.view_lead", "opportunities.add_lead", "opportunities.change_lead",
              "opportunities.convert_lead", "opportunities.view_referral", "opportunities.add_referral"]
ROLE_PERMISSIONS[Role.RELATIONSHIP_MANAGER] += _LEAD_WORK
ROLE_PERMISSIONS[Role.BRANCH_MANAGER] += [
    *_LEAD_WORK, "opportunities.assign_lead", "opportunities.view_leadassignment",
    "opportunities.view_assignmentrule", "opportunities.add_assignmentrule",
    "opportunities.change_assignmentrule", "opportunities.delete_assignmentrule",
    "opportunities.view_productspecialist", "opportunities.add_productspecialist",
    "opportunities.delete_productspecialist", "opportunities.view_referral_report",
]
ROLE_PERMISSIONS[Role.SERVICE_AGENT] += ["opportunities.view_referral", "opportunities.add_referral"]
ROLE_PERMISSIONS[Role.OPERATIONS] += ["opportunities.view_lead", "opportunities.add_lead"]
ROLE_PERMISSIONS[Role.COMPLIANCE_AUDITOR] += ["opportunities.view_lead", "opportunities.view_leadassignment",
                                              "opportunities.view_referral"]
ROLE_PERMISSIONS[Role.ADMINISTRATOR] += [
    "opportunities.view_lead", "opportunities.assign_lead", "opportunities.view_leadassignment",
    "opportunities.view_assignmentrule", "opportunities.add_assignmentrule",
    "opportunities.change_assignmentrule", "opportunities.delete_assignmentrule",
    "opportunities.view_productspecialist", "opportunities.add_productspecialist",
    "opportunities.change_productspecialist", "opportunities.delete_productspecialist",
    "opportunities.view_referral", "opportunities.view_referral_report",
]

# Contact notes (issue 6): the author voids their own note logged on the wrong customer; a branch
# manager may void any note of a customer in their branches.
ROLE_PERMISSIONS[Role.BRANCH_MANAGER].append("interactions.void_interaction")
