"""The audit trail: append-only in the database, complete (bulk writes too), and free of secrets."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from customers.models import Customer
from customers.services import customer_share
from org.audit import audit_context, audit_record
from org.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(org):
    return audit_record(action=AuditEntry.Action.EXPORT, actor=org["ops1"], object_type="customers.customer",
                        detail={"rows": 3})


def test_database_refuses_update_of_an_audit_entry(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE org_auditentry SET actor_username = 'someone_else' WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert entry.actor_username == "ops1"


def test_database_refuses_delete_of_an_audit_entry(entry):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM org_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_orm_bulk_delete_of_audit_entries_is_refused(entry):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_bulk_update_is_recorded_row_by_row_with_field_names(org, customers):
    rows = customers["rm1"]
    with audit_context(user=org["ops1"], ip="10.1.2.3"):
        Customer.objects.filter(pk__in=[c.pk for c in rows]).update(lifecycle_status=Customer.Lifecycle.DORMANT)
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.UPDATE, object_type="customers.customer")
    assert {e.object_id for e in entries} == {str(c.pk) for c in rows}
    for e in entries:
        assert e.fields == ["lifecycle_status"]
        assert e.actor_username == "ops1"
        assert e.ip_address == "10.1.2.3"


def test_create_and_delete_are_recorded_without_values(org):
    from org.models import Branch

    with audit_context(user=org["admin"]):
        branch = Branch.objects.create(code="TMP1", name="临时网点", kind=Branch.Kind.OUTLET,
                                       parent=Branch.objects.get(code="BJ01"))
        Branch.objects.filter(pk=branch.pk).delete()
    created = AuditEntry.objects.get(action="create", object_type="org.branch", object_id=str(branch.pk))
    deleted = AuditEntry.objects.get(action="delete", object_type="org.branch", object_id=str(branch.pk))
    assert "name" in created.fields
    assert "临时网点" not in str(created.detail) + str(deleted.detail)


def test_password_change_names_the_field_and_never_stores_the_hash(org):
    user = org["rm1"]
    with audit_context(user=org["admin"]):
        user.set_password("N3w-Passw0rd-2026")
        user.save()
    entry = AuditEntry.objects.filter(object_type="org.user", object_id=str(user.pk), action="update").latest("id")
    assert entry.fields == ["password"]
    assert user.password not in str(entry.detail) + entry.object_repr


def test_role_membership_change_is_a_permission_change(org):
    from django.contrib.auth.models import Group

    with audit_context(user=org["admin"]):
        org["rm1"].groups.add(Group.objects.get(name="risk_officer"))
    entry = AuditEntry.objects.filter(action="permission_change", object_type="org.user_groups").latest("id")
    assert entry.actor_username == "admin"
    assert entry.detail["op"] == "insert"
    assert entry.detail["row"]["user_id"] == org["rm1"].pk


def test_sharing_a_customer_is_audited_by_service_and_trigger(org, customers):
    target = customers["rm2"][0]
    customer_share(customer=target, with_user=org["rm1"], actor=org["admin"])
    by_service = AuditEntry.objects.get(action="permission_change", object_type="customers.customer",
                                        object_id=str(target.pk))
    assert by_service.detail == {"granted_to": "rm1", "permission": "view_customer"}
    assert AuditEntry.objects.filter(action="permission_change",
                                     object_type="customers.customeruserobjectpermission").exists()


def test_sign_in_failure_and_success_and_sign_out_are_recorded_with_ip(client, org):
    client.post(reverse("login"), {"username": "rm1", "password": "wrong-password"}, REMOTE_ADDR="10.9.8.7")
    client.post(reverse("login"), {"username": "rm1", "password": "crm-demo-2026"}, REMOTE_ADDR="10.9.8.7")
    client.post(reverse("logout"), REMOTE_ADDR="10.9.8.7")
    actions = list(AuditEntry.objects.filter(actor_username="rm1").order_by("id").values_list("action", "ip_address"))
    assert actions == [("login_failed", "10.9.8.7"), ("login", "10.9.8.7"), ("logout", "10.9.8.7")]
    assert not AuditEntry.objects.filter(detail__icontains="wrong-password").exists()


def test_auditor_reads_the_trail_filtered_and_paginated(client_for, org, entry):
    for n in range(60):
        audit_record(action=AuditEntry.Action.REVEAL, actor=org["rm1"], object_type="customers.customer",
                     object_id=str(n))
    client = client_for("auditor1")
    first = client.get(reverse("org:audit-list"), {"action": "reveal"})
    assert first.status_code == 200
    assert len(first.context["entries"]) == 50
    assert all(e.action == "reveal" for e in first.context["entries"])
    second = client.get(reverse("org:audit-list"), {"action": "reveal", "before": first.context["next_before"]})
    assert len(second.context["entries"]) == 10
    assert second.context["next_before"] is None


def test_audit_filter_with_dates_in_the_wrong_order_says_so(client_for, org):
    response = client_for("auditor1").get(reverse("org:audit-list"),
                                          {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert response.status_code == 200
    assert "date_to" in response.context["form"].errors


@pytest.mark.parametrize("username", ["rm1", "manager1", "ops1", "risk1"])
def test_only_auditors_open_the_audit_trail(client_for, username):
    assert client_for(username).get(reverse("org:audit-list")).status_code == 403


def test_nobody_edits_the_audit_trail_in_admin(client, org, entry):
    client.force_login(org["admin"])  # a superuser
    assert client.get(reverse("admin:org_auditentry_change", args=[entry.pk])).status_code == 200
    response = client.post(reverse("admin:org_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_audit_entries_of_a_customer_show_the_name_masked(org, customers):
    target = customers["rm2"][0]
    customer_share(customer=target, with_user=org["rm1"], actor=org["admin"])
    entry = AuditEntry.objects.get(action="permission_change", object_type="customers.customer")
    assert target.name not in entry.object_repr
    assert entry.object_repr == f"{target.customer_no} {target.name[0]}{'*' * (len(target.name) - 1)}"


def test_audit_page_names_objects_and_fields_in_the_readers_language(client_for, org, customers):
    with audit_context(user=org["ops1"]):
        Customer.objects.filter(pk=customers["rm1"][0].pk).update(lifecycle_status=Customer.Lifecycle.DORMANT)
    client = client_for("auditor1")
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("org:audit-list"), {"action": "update"}).content.decode()
    assert "生命周期状态" in page
    assert "客户" in page
    client.cookies["django_language"] = "en"
    page = client.get(reverse("org:audit-list"), {"action": "update"}).content.decode()
    assert "lifecycle status" in page
