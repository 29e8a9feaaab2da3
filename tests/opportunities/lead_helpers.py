"""Shared fixtures of the leads, assignment and referral tests."""

from customers import services as customer_services
from customers.models import Product
from org.models import Branch, User
from org.roles import Role
from tests.factories import UserFactory

PHONE = "13812345678"
OTHER_PHONE = "13987654321"
RESIDENT_ID = "11010519491231002X"


def create_customer(org, number, name, *, rm="rm1", personal=None, **extra):
    data = {"customer_no": number, "kind": "individual", "name": name, "home_branch": org[rm].branch,
            "primary_rm": org[rm], **extra}
    return customer_services.customer_create(actor=org[rm], data=data, personal=personal or {})


def rm_in(branch_code: str, username: str) -> User:
    return UserFactory(username=username, branch=Branch.objects.get(code=branch_code),
                       roles=[Role.RELATIONSHIP_MANAGER])


def make_product(code="WM-R2", category=Product.Category.WEALTH, risk_level="R2") -> Product:
    """A product on sale, and the default pipelines (a transactional test's flush removes the migration's)."""
    import importlib

    from django.apps import apps

    importlib.import_module("opportunities.migrations.0002_default_pipelines").create_defaults(apps, None)
    product, _created = Product.objects.get_or_create(
        code=code, defaults={"name": "稳健理财", "category": category, "risk_level": risk_level})
    return product
