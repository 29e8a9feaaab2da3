"""The data dictionary is generated from the models: every field, both languages, allowed values, owner."""

import pytest
from django.urls import reverse

from customers.models import Customer
from interactions.models import Interaction
from interactions.selectors import data_dictionary

from .conftest import client_as

pytestmark = pytest.mark.django_db


def _table(label):
    return next(t for t in data_dictionary() if t["label"] == label)


def test_every_customer_and_interaction_field_is_listed():
    for model in (Customer, Interaction):
        table = _table(model._meta.label_lower)
        expected = [f.name for f in model._meta.get_fields() if f.concrete and not f.auto_created]
        assert [row["name"] for row in table["fields"]] == expected


def test_a_field_has_its_meaning_in_both_languages_its_values_and_owner():
    row = next(r for r in _table("interactions.interaction")["fields"] if r["name"] == "channel")
    assert [t["language"] for t in row["texts"]] == ["zh-hans", "en"]
    english = row["texts"][1]
    assert (english["label"], english["help"]) == ("channel", "How the contact took place.")
    assert [c["value"] for c in row["choices"]] == ["phone", "visit", "meeting", "email", "sms", "wechat", "online"]
    assert "Author of the note" in row["owner"]
    assert row["required"] is True
    sealed = next(r for r in _table("customers.customer")["fields"] if r["name"] == "phone_enc")
    assert "System (computed or sealed)" in sealed["owner"]


def test_the_page_shows_the_dictionary_to_staff(org):
    html = client_as(org, "risk1").get(reverse("interactions:data-dictionary")).content.decode()
    assert 'data-testid="dictionary-field-customers.customer.risk_tolerance"' in html
    assert "C3 balanced" in html
    assert 'data-testid="dictionary-field-interactions.interaction.confidential"' in html
