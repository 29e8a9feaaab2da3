import pytest

from customers.models import Customer

from .importing import HEADER_ZH, csv_bytes, resident_id, run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_smoke(org):
    rows = [HEADER_ZH, ["C900000001", "张三", resident_id("11010819900101123"), "13812345678", "BJ01", "E1001"]]
    job = run(org["ops1"], csv_bytes(rows))
    assert job.rows_created == 1
    customer = Customer.objects.get(customer_no="C900000001")
    assert customer.phone_masked == "138****5678"
