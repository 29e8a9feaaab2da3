"""Shared fixtures of the pipeline, board, suitability, recommendation and funnel tests."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from customers import services as customer_services
from customers.models import Account, Product
from opportunities import services
from opportunities.defaults import create_default_pipelines
from opportunities.models import Pipeline, Stage

HTMX = {"HTTP_HX_REQUEST": "true"}


def create_customer(org, number, name, *, rm="rm1", **extra):
    data = {"customer_no": number, "kind": "individual", "name": name, "home_branch": org[rm].branch,
            "primary_rm": org[rm], **extra}
    return customer_services.customer_create(actor=org[rm], data=data, personal={})


def product(code, *, category=Product.Category.WEALTH, risk_level="", name=None) -> Product:
    made, _created = Product.objects.get_or_create(
        code=code, defaults={"name": name or code, "category": category, "risk_level": risk_level})
    return made


def stage(pipeline: Pipeline, code: str) -> Stage:
    return pipeline.stages.get(code=code)


def client_as(org, username) -> Client:
    client = Client()
    if username != "anonymous":
        client.force_login(org[username])
    return client


def open_opportunity(org, customer, prod, *, rm="rm1", amount="100000", **extra):
    return services.opportunity_create(customer=customer, product=prod, actor=org[rm], amount=Decimal(amount),
                                       expected_close_on=timezone.localdate() + dt.timedelta(days=20), **extra)


def holding(customer, prod, *, number, balance="500000", matures_in=None):
    account = Account.objects.create(
        customer=customer, product=prod, number=number, balance=Decimal(balance), opened_on=dt.date(2025, 6, 1),
        matures_on=timezone.localdate() + dt.timedelta(days=matures_in) if matures_in is not None else None)
    customer_services.customer_recalculate(customer=customer)
    return account


@pytest.fixture
def book(org):
    """rm1's customers: 王秀英 assessed C3 until next year, 李建国 whose C4 assessment expired last month;
    rm2's customer 赵丽 (another sub-branch). Products: wealth R2 and R4, a fund R5, a time deposit."""
    # A transactional test elsewhere in the run flushes what the data migration wrote: recreate it.
    create_default_pipelines(Pipeline, Stage)
    today = timezone.localdate()
    wang = create_customer(org, "C0000700001", "王秀英", risk_tolerance="C3",
                           risk_assessed_on=today - dt.timedelta(days=30),
                           risk_expires_on=today + dt.timedelta(days=335))
    li = create_customer(org, "C0000700002", "李建国", risk_tolerance="C4",
                         risk_assessed_on=today - dt.timedelta(days=400), risk_expires_on=today - dt.timedelta(days=35))
    zhao = create_customer(org, "C0000700003", "赵丽", rm="rm2", risk_tolerance="C5",
                           risk_assessed_on=today, risk_expires_on=today + dt.timedelta(days=365))
    return {
        "org": org, "wang": wang, "li": li, "zhao": zhao,
        "wealth_r2": product("WM-R2", risk_level="R2", name="稳健理财R2"),
        "wealth_r4": product("WM-R4", risk_level="R4", name="进取理财R4"),
        "fund_r5": product("FD-R5", category=Product.Category.FUND, risk_level="R5", name="成长基金R5"),
        "td": product("TD12", category=Product.Category.TIME_DEPOSIT, name="12个月定期存款"),
        "wealth": Pipeline.objects.get(category="wealth"),
    }
