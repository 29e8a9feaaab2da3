"""manage.py rotate_keys: re-seal personal data under the first key of FIELD_ENCRYPTION_KEYS.

Resumable and idempotent: it only touches values sealed under another key, in chunks, each chunk
its own transaction; stop it at any point and run it again. Remove a retired key from the ring only
after this command reports 0 values left under it.
"""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q

from crm_site import crypto
from customers.models import Customer
from org.audit import audit_context, audit_record
from org.models import AuditEntry

COLUMNS = ("id_number_enc", "phone_enc", "email_enc", "address_enc")


class Command(BaseCommand):
    help = "Re-seal customers' personal data under the current primary key (resumable, idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--chunk", type=int, default=2000)
        parser.add_argument("--dry-run", action="store_true", help="only count values under old keys")

    def handle(self, *args, chunk: int, dry_run: bool, **options):
        primary = crypto.primary_key_id()
        prefix = f"{primary}:"
        stale = Q()
        for column in COLUMNS:
            stale |= ~Q(**{column: ""}) & ~Q(**{f"{column}__startswith": prefix})
        remaining = Customer.objects.filter(stale).count()
        if dry_run:
            self.stdout.write(f"{remaining} customers have values sealed under keys other than {primary!r}.")
            return
        done = 0
        last_pk = 0
        with audit_context(username="rotate_keys", job="rotate_keys"):
            while True:
                with transaction.atomic():
                    rows = list(Customer.objects.select_for_update().filter(stale, pk__gt=last_pk)
                                .order_by("pk").only("pk", *COLUMNS)[:chunk])
                    if not rows:
                        break
                    for row in rows:
                        for column in COLUMNS:
                            value = getattr(row, column)
                            if value and crypto.key_id_of(value) != primary:
                                setattr(row, column, crypto.encrypt(crypto.decrypt(value)))
                    Customer.objects.bulk_update(rows, COLUMNS)
                    last_pk = rows[-1].pk
                    done += len(rows)
                self.stdout.write(f"re-sealed {done} of {remaining}")
            audit_record(action=AuditEntry.Action.UPDATE, object_type="customers.customer",
                         fields=[c.removesuffix("_enc") for c in COLUMNS],
                         detail={"rotate_keys": {"customers": done, "primary_key": primary}}, username="rotate_keys")
        left = Customer.objects.filter(stale).count()
        self.stdout.write(self.style.SUCCESS(f"Done: {done} customers re-sealed under {primary!r}; {left} left."))
