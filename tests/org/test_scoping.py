"""Who sees which customers: RM, branch manager, head-office roles, guardian grants, 404s and admin."""

import re

import pytest
from django.urls import reverse

from customers.models import Customer
from customers.services import customer_share
from org import scoping

from ..factories import UserFactory

pytestmark = pytest.mark.django_db


def _visible_ids(user):
    return set(scoping.visible(user, Customer.objects.all()).values_list("pk", flat=True))


def _ids(rows):
    return {row.pk for row in rows}


def test_rm_sees_exactly_their_own_customers(org, customers):
    assert _visible_ids(org["rm1"]) == _ids(customers["rm1"])
    assert _visible_ids(org["rm2"]) == _ids(customers["rm2"])


def test_branch_manager_sees_their_sub_branch_and_nothing_else(org, customers):
    # manager1 manages BJ01, where rm1 and rm3 work; rm2 is in BJ02, "shanghai" in SH01.
    assert _visible_ids(org["manager1"]) == _ids(customers["rm1"] + customers["rm3"])


def test_head_office_roles_see_every_customer(org, customers):
    everyone = _ids(sum(customers.values(), []))
    assert _visible_ids(org["risk1"]) == everyone
    assert _visible_ids(org["auditor1"]) == everyone


def test_a_branch_level_role_sees_the_whole_subtree(org, customers):
    # ops1 works at the Beijing branch: both Beijing sub-branches, not Shanghai.
    assert _visible_ids(org["ops1"]) == _ids(customers["rm1"] + customers["rm2"] + customers["rm3"])


def test_user_without_role_sees_nothing(org, customers):
    nobody = UserFactory(branch=org["rm1"].branch)
    assert _visible_ids(nobody) == set()


def test_deactivated_user_sees_nothing(org, customers):
    rm1 = org["rm1"]
    rm1.is_active = False
    rm1.save()
    assert _visible_ids(type(rm1).objects.get(pk=rm1.pk)) == set()


def test_guardian_grant_widens_exactly_one_row(org, customers):
    shared = customers["rm2"][0]
    customer_share(customer=shared, with_user=org["rm1"], actor=org["admin"])
    rm1 = type(org["rm1"]).objects.get(pk=org["rm1"].pk)
    assert _visible_ids(rm1) == _ids(customers["rm1"]) | {shared.pk}


def test_global_view_permission_never_widens_rows(org, customers):
    # rm1 holds the global customers.view_customer permission through the RM role, yet sees 2 rows.
    assert org["rm1"].has_perm("customers.view_customer")
    assert len(_visible_ids(org["rm1"])) == 2


def test_sharing_needs_the_share_permission_and_changes_nothing_when_refused(org, customers):
    from django.core.exceptions import PermissionDenied

    target = customers["rm2"][0]
    with pytest.raises(PermissionDenied):
        customer_share(customer=target, with_user=org["rm1"], actor=org["rm3"])
    assert target.pk not in _visible_ids(org["rm1"])


CUSTOMER_ROUTES = ["customers:customer-detail"]


@pytest.mark.parametrize("route", CUSTOMER_ROUTES)
@pytest.mark.parametrize(("username", "owner", "expected"), [
    ("rm1", "rm1", 200),
    ("rm1", "rm2", 404),
    ("rm2", "rm1", 404),
    ("manager1", "rm3", 200),
    ("manager1", "rm2", 404),
    ("risk1", "shanghai", 200),
    ("ops1", "shanghai", 404),
])
def test_customer_routes_answer_404_outside_scope(client_for, customers, route, username, owner, expected):
    customer = customers[owner][0]
    response = client_for(username).get(reverse(route, args=[customer.pk]))
    assert response.status_code == expected


def test_missing_and_forbidden_customers_look_the_same(client_for, customers):
    client = client_for("rm1")
    forbidden = client.get(reverse("customers:customer-detail", args=[customers["rm2"][0].pk]))
    missing = client.get(reverse("customers:customer-detail", args=[999_999_999]))
    assert forbidden.status_code == missing.status_code == 404

    def normalised(response, path):
        # Tokens differ per response and the page echoes its own address (language switcher).
        body = re.sub(rb'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', b"", response.content)
        return body.replace(path.encode(), b"PATH")

    assert normalised(forbidden, forbidden.request["PATH_INFO"]) == normalised(missing, missing.request["PATH_INFO"])


def test_anonymous_is_sent_to_sign_in(client, customers):
    response = client.get(reverse("customers:customer-detail", args=[customers["rm1"][0].pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_customer_list_shows_only_visible_customers(client_for, customers):
    response = client_for("rm1").get(reverse("customers:customer-list"))
    assert response.status_code == 200
    shown = {customer.pk for customer in response.context["customers"]}
    assert shown == _ids(customers["rm1"])
    for other in customers["rm2"] + customers["shanghai"]:
        assert other.name not in response.content.decode()


def test_customer_list_query_count_is_pinned(client_for, customers, django_assert_max_num_queries):
    client = client_for("manager1")
    # session, user, 2× permissions, groups (reach), branch, the page of customers with branch and RM,
    # and the filter form's four option lists (branches, RMs, tags, segments): fixed, whatever the rows.
    with django_assert_max_num_queries(11):
        response = client.get(reverse("customers:customer-list"))
    assert response.status_code == 200


@pytest.fixture
def sh_admin(org):
    """An administrator whose home branch is Shanghai: admin shows them Shanghai only."""
    from org.models import Branch
    from org.roles import Role

    return UserFactory(username="sh_admin", branch=Branch.objects.get(code="SH"), is_staff=True,
                       roles=[Role.ADMINISTRATOR])


def test_admin_changelist_is_scoped_for_non_superusers(client, sh_admin, customers):
    client.force_login(sh_admin)
    response = client.get(reverse("admin:customers_customer_changelist"))
    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert shown == _ids(customers["shanghai"])


@pytest.mark.parametrize("view", ["change", "history"])
def test_admin_answers_404_for_another_branchs_customer(client, sh_admin, customers, view):
    client.force_login(sh_admin)
    other = customers["rm1"][0]
    response = client.get(reverse(f"admin:customers_customer_{view}", args=[other.pk]))
    assert response.status_code == 404


def test_admin_change_of_invisible_customer_changes_nothing(client, sh_admin, customers):
    client.force_login(sh_admin)
    other = customers["rm1"][0]
    response = client.post(reverse("admin:customers_customer_change", args=[other.pk]),
                           {"customer_no": other.customer_no, "name": "篡改", "kind": "individual",
                            "home_branch": other.home_branch_id, "lifecycle_status": "closed"})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.name != "篡改"
    assert other.lifecycle_status == Customer.Lifecycle.ACTIVE
