"""Fixtures of the interactions tests: rm1's and rm2's customers with real contact data, and helpers."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from customers import services as customer_services
from customers.models import Account, Product

HTMX = {"HTTP_HX_REQUEST": "true"}
PHONE = "13812345678"
EMAIL = "wang.xiuying@example.com"


def create_customer(org, number, name, *, rm="rm1", actor=None, personal=None, **extra):
    data = {"customer_no": number, "kind": "individual", "name": name, "home_branch": org[rm].branch,
            "primary_rm": org[rm], **extra}
    return customer_services.customer_create(actor=org[actor or rm], data=data, personal=personal or {})


def client_as(org, username, *, language="en") -> Client:
    client = Client()
    if username != "anonymous":
        client.force_login(org[username])
    client.cookies["django_language"] = language
    return client


@pytest.fixture
def world(org):
    """rm1's customer 王秀英 (BJ01) with phone and e-mail on file and consent to marketing; a second rm1
    customer with nothing on file; rm2's customer (BJ02)."""
    wang = create_customer(org, "C0000600001", "王秀英", personal={"phone": PHONE, "email": EMAIL},
                           marketing_consent=True)
    li = create_customer(org, "C0000600002", "李建国")
    zhao = create_customer(org, "C0000600003", "赵丽", rm="rm2", personal={"phone": "13900001111"})
    return {"org": org, "wang": wang, "li": li, "zhao": zhao}


def holding(customer, *, number, balance="500000", matures_in=None, code="TD12"):
    product, _created = Product.objects.get_or_create(
        code=code, defaults={"name": "12个月定期存款", "category": Product.Category.TIME_DEPOSIT})
    account = Account.objects.create(
        customer=customer, product=product, number=number, balance=Decimal(balance), opened_on=dt.date(2025, 6, 1),
        matures_on=timezone.localdate() + dt.timedelta(days=matures_in) if matures_in is not None else None)
    customer_services.customer_recalculate(customer=customer)
    return account
