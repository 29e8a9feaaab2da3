"""The same resources behind Django admin's import button: sealed personal data, and the import permission."""

import pytest
import tablib
from django.contrib.admin.sites import site
from django.test import RequestFactory

from crm_site import crypto
from customers.models import Customer
from customers.resources import CustomerResource

from .importing import resident_id

pytestmark = pytest.mark.django_db


def test_the_library_path_seals_personal_data_like_the_pipeline(org):
    number = resident_id("11010819900101123")
    data = tablib.Dataset(headers=["customer_no", "name", "id_type", "id_number", "phone", "branch", "rm"])
    data.append(["A1", "张三", "resident_id", number, "13812345678", "BJ01", "rm1"])
    result = CustomerResource().import_data(data, dry_run=False, raise_errors=True)
    assert result.totals["new"] == 1
    customer = Customer.objects.get(customer_no="A1")
    assert crypto.decrypt(customer.id_number_enc) == number
    assert customer.id_number_bidx == crypto.blind_index("id", number)
    assert customer.phone_masked == "138****5678"
    assert (customer.home_branch.code, customer.primary_rm.username, customer.name_pinyin) == (
        "BJ01", "rm1", "zhangsan")


@pytest.mark.parametrize(("username", "allowed"), [("admin", True), ("ops1", True), ("manager1", False),
                                                   ("rm1", False)])
def test_admins_import_button_needs_the_import_permission(org, username, allowed):
    request = RequestFactory().get("/admin/customers/customer/")
    request.user = org[username]
    assert site._registry[Customer].has_import_permission(request) is allowed
