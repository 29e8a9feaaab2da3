"""The customer table carries only the indexes the product reads through (each one costs every imported row
about 5 µs on two cores), the name index serves prefix search, and a bulk import's rows queue no audit events."""

import pytest
from django.db import connection, transaction

from customers import services
from customers.models import Customer
from org.models import AuditEntry

pytestmark = pytest.mark.django_db

# What reads each: docs/decisions.md "Customer indexes and bulk loads".
CUSTOMER_INDEXES = {
    "customers_customer_pkey",
    "customers_customer_no_unique",  # the natural key of imports and lookups by number
    "cust_branch_rm_name",  # a branch's list in name order; the home_branch foreign key (PROTECT)
    "cust_rm_name",  # an RM's list in name order; the primary_rm foreign key (PROTECT)
    "cust_name_id",  # head office's list in name order and name-prefix search (collation "C")
    "cust_aum_id",  # lists sorted by assets
    "cust_id_bidx",  # search by ID number, duplicate detection
    "cust_phone_bidx",  # search by mobile number, duplicate detection
    "cust_pinyin_prefix",  # search by pinyin
    "cust_initials_prefix",  # search by pinyin initials
    "cust_name_trgm",  # search by a fragment of the name
    "cust_merged_into",  # merged-away records only
}


def _indexes(table):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


def test_the_customer_table_has_exactly_the_indexes_the_product_reads_through():
    assert _indexes("customers_customer") == CUSTOMER_INDEXES


def test_a_name_prefix_search_reads_the_name_index_in_name_order(org):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        query = Customer.objects.filter(name__startswith="张").order_by("name", "id").values("id")[:50]
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "cust_name_id" in plan
    assert "Index Cond" in plan
    assert "Sort" not in plan


def _count(number):
    return AuditEntry.objects.filter(object_type="customers.customer", action="create",
                                     object_id__in=Customer.objects.filter(customer_no=number).values("pk")
                                     .values_list("pk", flat=True)).count()


def test_rows_written_under_the_bulk_switch_leave_no_row_audit_and_others_do(org):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('crm.audit_bulk', 'test', true)")
        services.customer_create(actor=org["rm1"], data={
            "customer_no": "BULK1", "kind": "individual", "name": "王批量", "home_branch": org["rm1"].branch,
            "primary_rm": org["rm1"]}, personal={})
        cursor.execute("SELECT set_config('crm.audit_bulk', '', true)")
    services.customer_create(actor=org["rm1"], data={
        "customer_no": "ONE1", "kind": "individual", "name": "王单条", "home_branch": org["rm1"].branch,
        "primary_rm": org["rm1"]}, personal={})
    bulk = str(Customer.objects.get(customer_no="BULK1").pk)
    single = str(Customer.objects.get(customer_no="ONE1").pk)
    created = set(AuditEntry.objects.filter(object_type="customers.customer", action="create")
                  .values_list("object_id", flat=True))
    assert single in created
    assert bulk not in created


def test_every_row_audit_trigger_skips_bulk_rows_before_queueing_an_event():
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname, pg_get_triggerdef(tg.oid) FROM pg_trigger AS tg "
                       "JOIN pg_class AS c ON c.oid = tg.tgrelid JOIN pg_proc AS p ON p.oid = tg.tgfoid "
                       "WHERE p.proname = 'crm_audit_row_change' AND NOT tg.tgisinternal")
        triggers = cursor.fetchall()
    assert len(triggers) >= 20
    bulk = {table for table, definition in triggers if "crm.audit_bulk" in definition}
    # Every audited table an import writes (transactions have no row trigger); the task trigger that has a WHEN
    # of its own is the only one without it (tasks are not imported; the function checks the switch as well).
    assert {"customers_customer", "customers_account", "opportunities_lead"} <= bulk
    others = [definition for _table, definition in triggers if "crm.audit_bulk" not in definition]
    assert len(others) == 1
    assert "interactions_task_audit_update" in others[0]
