"""Personal data: sealed at rest, indexed blind, masked by default, validated with a message per field."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.utils import translation

from crm_site import crypto
from customers import pii, services
from customers.models import Customer

pytestmark = pytest.mark.django_db

ID = "11010519491231002X"  # a valid resident ID: born 1949-12-31, female
PHONE = "13812345678"


@pytest.fixture
def zhang(org):
    return services.customer_create(
        actor=org["rm1"],
        data={"customer_no": "C9000000001", "kind": "individual", "name": "张伟", "id_type": "resident_id",
              "home_branch": org["rm1"].branch, "primary_rm": org["rm1"]},
        personal={"id_number": ID, "phone": PHONE, "email": "Zhang.Wei@Example.com",
                  "address": "北京市海淀区中关村大街27号"},
    )


def test_a_raw_sql_read_of_the_customer_table_shows_no_plaintext(zhang):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM customers_customer WHERE id = %s", [zhang.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    for secret in (ID, PHONE, "8613812345678", "zhang.wei@example.com", "中关村大街27号"):
        assert secret not in row


def test_personal_data_is_masked_for_display(zhang):
    assert zhang.id_number_masked == "110***********002X"
    assert zhang.phone_masked == "138****5678"
    assert zhang.email_masked == "z***@example.com"
    assert zhang.address_masked == "北京市海淀区****"
    assert str(zhang) == "C9000000001 张*"


def test_birth_date_and_gender_are_filled_from_the_resident_id(zhang):
    assert zhang.birth_date == dt.date(1949, 12, 31)
    assert zhang.gender == Customer.Gender.FEMALE


def test_values_open_with_the_key_ring_and_normalise_on_the_way_in(zhang):
    assert pii.unseal(zhang, "phone") == "+8613812345678"
    assert pii.unseal(zhang, "email") == "zhang.wei@example.com"
    assert crypto.key_id_of(zhang.phone_enc) == crypto.primary_key_id()


def test_same_phone_in_any_format_finds_the_customer_through_the_blind_index(zhang):
    for typed in ("138 1234 5678", "+86 138-1234-5678", "13812345678"):
        assert list(services.duplicates_of(phone=typed)) == [zhang]
    assert list(services.duplicates_of(id_number=ID.lower(), id_type="resident_id")) == [zhang]


def test_blind_index_is_keyed_and_separates_kinds():
    assert crypto.blind_index("phone", "+8613812345678") != crypto.blind_index("id", "+8613812345678")
    assert len(crypto.blind_index("phone", "+8613812345678")) == 32
    assert crypto.blind_index("phone", "") == ""


def test_tampered_ciphertext_is_refused(zhang):
    kid, body = zhang.phone_enc.split(":", 1)
    tampered = f"{kid}:{body[:-4]}AAAA"
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(tampered)


@pytest.mark.parametrize(("id_number", "field", "words"), [
    ("110105194912310021", "id_number", "check digit"),
    ("11010519491231", "id_number", "18"),
    ("110105194913310021", "id_number", "birth date"),
])
def test_invalid_resident_ids_are_refused_naming_the_field(id_number, field, words):
    with translation.override("en"), pytest.raises(ValidationError) as caught:
        pii.normalise_id_number("resident_id", id_number)
    assert field in caught.value.message_dict
    assert words in " ".join(caught.value.message_dict[field])


def test_birth_date_or_gender_that_disagree_with_the_id_are_refused(org):
    with pytest.raises(ValidationError) as caught:
        services.customer_create(
            actor=org["rm1"],
            data={"customer_no": "C9000000002", "kind": "individual", "name": "王芳", "id_type": "resident_id",
                  "birth_date": dt.date(1950, 1, 1), "gender": "M", "home_branch": org["rm1"].branch,
                  "primary_rm": org["rm1"]},
            personal={"id_number": ID})
    assert set(caught.value.message_dict) == {"birth_date", "gender"}
    assert not Customer.objects.filter(customer_no="C9000000002").exists()


def test_unified_social_credit_code_is_checked():
    assert pii.normalise_id_number("uscc", "91110108ma01c6cy5p") == "91110108MA01C6CY5P"
    with pytest.raises(ValidationError):
        pii.normalise_id_number("uscc", "91110108MA01C6CY5Q")


@pytest.mark.parametrize("phone", ["12345", "1381234567", "phone"])
def test_impossible_phone_numbers_are_refused(phone):
    with pytest.raises(ValidationError) as caught:
        pii.normalise_phone(phone)
    assert "phone" in caught.value.message_dict


def test_pinyin_keys_for_search():
    assert pii.name_keys("张伟") == ("zhangwei", "zw")
    assert pii.name_keys("欧阳娜娜") == ("ouyangnana", "oynn")


def test_rotate_keys_reseals_under_the_new_primary_and_is_idempotent(zhang, settings):
    old = settings.FIELD_ENCRYPTION_KEYS
    settings.FIELD_ENCRYPTION_KEYS = "new2:" + "bmV3LWtleS1mb3Itcm90YXRpb24tdGVzdHMtMzItYnk=" + "," + old
    call_command("rotate_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    zhang.refresh_from_db()
    assert crypto.key_id_of(zhang.phone_enc) == "new2"
    assert pii.unseal(zhang, "phone") == "+8613812345678"
    assert pii.unseal(zhang, "id_number") == ID
    sealed = zhang.phone_enc
    call_command("rotate_keys", stdout=open("/dev/null", "w"))  # noqa: SIM115
    zhang.refresh_from_db()
    assert zhang.phone_enc == sealed  # nothing left to do: untouched
