"""Background exports (issue 5 item 7, XLSX): asked for from the list, written by a worker, shown on a page of
their own that follows the progress, downloaded by the asker alone (audited each time), refused once the asker
lost the permission, deleted after the retention period; and the whole flow on a real Celery worker."""

import datetime as dt
import io

import openpyxl
import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from customers import services as customer_services
from org.models import AuditEntry
from org.roles import Role
from reports import exports
from reports.models import ExportJob

from ..workers import wait_for

ID_NUMBER = "11010519491231002X"
EXPORT_URL = reverse("customers:customer-export")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def book(org):
    for number, name in (("C7000000001", "王秀英"), ("C7000000002", "李建国")):
        customer_services.customer_create(
            actor=org["admin"], personal={"id_number": ID_NUMBER} if number.endswith("1") else {},
            data={"customer_no": number, "kind": "individual", "name": name, "home_branch": org["rm1"].branch,
                  "primary_rm": org["rm1"], "id_type": "resident_id" if number.endswith("1") else ""})
    return org


def _ask(client, query="", **data):
    response = client.post(EXPORT_URL + (f"?{query}" if query else ""), {"format": "xlsx", **data})
    assert response.status_code == 302, response.content
    job = ExportJob.objects.latest("id")
    assert response["Location"] == job.get_absolute_url()
    return job


def _panel(client, job):
    return client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()


def _download(client, job):
    return client.get(reverse("exports:export-download", args=[job.pk]))


def _sheet_rows(response):
    body = b"".join(response.streaming_content)
    return list(openpyxl.load_workbook(io.BytesIO(body)).worksheets[0].iter_rows(values_only=True))


def test_asking_queues_an_export_whose_page_polls_until_the_file_is_ready(client_for, book):
    client = client_for("manager1")
    job = _ask(client, "tier=mass")

    assert job.status == ExportJob.Status.QUEUED
    assert job.params == {"tier": ["mass"]}
    queued = _panel(client, job)
    assert "Queued: the file is written as soon as a worker is free." in queued
    assert 'hx-trigger="every 1s"' in queued
    assert "export-download" not in queued

    exports.export_build(job.pk)  # what the worker does with the queued message

    ready = _panel(client, job)
    assert "hx-get" not in ready  # the polling stops by itself
    assert "2 rows," in ready
    assert 'data-testid="export-download"' in ready
    assert "<code>tier=mass</code>" in ready
    rows = _sheet_rows(_download(client, job))
    assert [row[0] for row in rows[1:]] == ["C7000000001", "C7000000002"]


def test_the_page_shows_the_rows_written_so_far_while_the_worker_writes(client_for, book):
    client = client_for("manager1")
    job = _ask(client)
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING)
    cache.set(exports.progress_key(job.pk), 340000, 60)

    panel = _panel(client, job)
    assert "340,000 rows written so far" in panel
    assert 'hx-trigger="every 1s"' in panel


def test_asking_is_audited_with_the_export_and_each_download_as_a_reveal_when_in_plain_text(client_for, book):
    client = client_for("manager1")
    job = _ask(client, pii="plain")
    asked = AuditEntry.objects.get(action=AuditEntry.Action.EXPORT)
    assert (asked.detail["export"], asked.detail["format"], asked.detail["rows"]) == (job.pk, "xlsx", 2)
    exports.export_build(job.pk)

    rows = {row[0]: row for row in _sheet_rows(_download(client, job))[1:]}
    assert rows["C7000000001"][9] == ID_NUMBER
    _download(client, job)

    downloads = AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT, detail__download=True)
    assert downloads.count() == 2
    assert {entry.actor_username for entry in downloads} == {"manager1"}
    reveals = AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL)
    assert reveals.count() == 2  # the downloads are the reads; asking for the file revealed nothing yet
    assert all(entry.detail["download"] and entry.detail["export"] == job.pk for entry in reveals)
    assert sorted(reveals.first().fields) == ["address", "email", "id_number", "phone"]
    job.refresh_from_db()
    assert job.downloads == 2


def test_a_masked_download_is_audited_as_an_export_but_not_as_a_reveal(client_for, book):
    client = client_for("ops1")
    job = _ask(client)
    exports.export_build(job.pk)
    rows = {row[0]: row for row in _sheet_rows(_download(client, job))[1:]}
    assert rows["C7000000001"][9] == "110***********002X"
    assert AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT, detail__download=True).count() == 1
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.REVEAL).exists()


def test_someone_elses_export_is_404_on_every_route_and_absent_from_their_list(client_for, book):
    job = _ask(client_for("manager1"))
    exports.export_build(job.pk)
    other = client_for("ops1")  # may export too, but this export is manager1's

    assert other.get(job.get_absolute_url()).status_code == 404
    assert _download(other, job).status_code == 404
    assert f"#{job.pk}<" not in other.get(reverse("exports:export-list")).content.decode()
    assert f"#{job.pk}<" in client_for("manager1").get(reverse("exports:export-list")).content.decode()
    assert not AuditEntry.objects.filter(detail__download=True).exists()


def test_a_link_cannot_start_a_workbook_nor_a_form_a_csv(client_for, book):
    client = client_for("ops1")
    assert client.get(EXPORT_URL, {"format": "xlsx"}).status_code == 405
    assert client.post(EXPORT_URL, {"format": "csv"}).status_code == 405
    assert not ExportJob.objects.exists()
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.EXPORT).exists()


def test_an_invalid_filter_is_refused_naming_it_and_no_export_is_queued(client_for, book):
    response = client_for("ops1").post(EXPORT_URL + "?branch=NOPE", {"format": "xlsx"})
    assert response.status_code == 400
    assert b"Branch" in response.content
    assert not ExportJob.objects.exists()


def test_a_plaintext_workbook_needs_the_reveal_permission_and_a_refusal_queues_nothing(client_for, book):
    response = client_for("ops1").post(EXPORT_URL, {"format": "xlsx", "pii": "plain"})
    assert response.status_code == 403
    assert not ExportJob.objects.exists()
    assert not AuditEntry.objects.filter(action__in=[AuditEntry.Action.EXPORT, AuditEntry.Action.REVEAL]).exists()


def _keep_export_lose_reveal(user):
    """Branch manager → marketing: still exports customers, no longer reveals personal data."""
    user.groups.set([Group.objects.get(name=Role.MARKETING)])


def test_a_plaintext_download_is_refused_once_the_asker_lost_only_the_reveal_permission(client_for, book):
    client = client_for("manager1")
    job = exports.export_build(_ask(client, pii="plain").pk)
    _keep_export_lose_reveal(book["manager1"])

    assert _download(client, job).status_code == 403
    assert not AuditEntry.objects.filter(detail__download=True).exists()


def test_the_worker_refuses_plain_text_to_someone_who_lost_only_the_reveal_permission(client_for, book):
    job = _ask(client_for("manager1"), pii="plain")
    _keep_export_lose_reveal(book["manager1"])

    job = exports.export_build(job.pk)

    assert (job.status, job.error, job.file.name) == (ExportJob.Status.FAILED,
                                                      "Your role may not reveal personal data.", "")


def test_a_download_is_refused_once_the_asker_lost_the_permission(client_for, book):
    client = client_for("manager1")
    job = _ask(client, pii="plain")
    exports.export_build(job.pk)
    manager = book["manager1"]
    manager.groups.remove(Group.objects.get(name=Role.BRANCH_MANAGER))

    assert _download(client, job).status_code == 403
    assert not AuditEntry.objects.filter(detail__download=True).exists()


def test_the_worker_checks_the_permissions_again_and_the_page_says_why_it_failed(client_for, book):
    client = client_for("manager1")
    job = _ask(client, pii="plain")
    book["manager1"].groups.remove(Group.objects.get(name=Role.BRANCH_MANAGER))

    job = exports.export_build(job.pk)

    assert job.status == ExportJob.Status.FAILED
    assert job.error == "Your role may not export customers."
    assert not job.file
    assert "Your role may not export customers." in _panel(client, job)


def test_a_job_whose_worker_died_is_written_again_into_one_file_and_a_ready_one_is_left_alone(client_for, book):
    client = client_for("ops1")
    job = exports.export_build(_ask(client).pk)
    first_name = job.file.name
    # A worker killed after storing the file but before recording it: the record names no file, a stray one
    # sits in the export's folder, and the message comes back.
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, file="")
    default_storage.save(first_name.replace("customers.xlsx", "customers_partial.xlsx"), io.BytesIO(b"PK"))

    again = exports.export_build(job.pk)

    assert again.status == ExportJob.Status.READY
    assert again.attempts == 2
    folder = again.file.name.rsplit("/", 1)[0]
    assert default_storage.listdir(folder)[1] == ["customers.xlsx"]
    assert again.file.name == first_name
    finished = again.finished_at
    assert exports.export_build(job.pk).finished_at == finished  # a ready export is not written twice
    assert not exports._scratch_dir(job.pk).exists()  # no workbook left on the worker's disk


def test_an_export_that_keeps_killing_its_worker_fails_after_three_attempts(client_for, book):
    job = _ask(client_for("ops1"))
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, attempts=exports.MAX_ATTEMPTS)

    job = exports.export_build(job.pk)

    assert (job.status, job.attempts) == (ExportJob.Status.FAILED, exports.MAX_ATTEMPTS)
    assert "could not be written" in job.error


def test_files_past_the_retention_are_deleted_and_the_page_says_so(client_for, book, settings):
    client = client_for("ops1")
    old = exports.export_build(_ask(client).pk)
    fresh = exports.export_build(_ask(client).pk)
    ExportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - dt.timedelta(hours=25))

    stale = _ask(client)  # queued a day ago and never picked up
    ExportJob.objects.filter(pk=stale.pk).update(created_at=timezone.now() - dt.timedelta(hours=25))
    waiting = _ask(client)  # queued just now: left alone

    assert exports.export_files_purge() == 1
    assert exports.export_files_purge() == 0  # idempotent
    stale.refresh_from_db()
    waiting.refresh_from_db()
    assert (stale.status, waiting.status) == (ExportJob.Status.FAILED, ExportJob.Status.QUEUED)

    old.refresh_from_db()
    assert (old.status, old.file.name) == (ExportJob.Status.EXPIRED, "")
    assert not default_storage.exists(f"exports/{old.created_at:%Y/%m}/{old.pk}/customers.xlsx")
    assert _download(client, old).status_code == 404
    assert "deleted after the retention period" in _panel(client, old)
    assert _download(client, fresh).status_code == 200


def test_the_export_page_runs_the_same_queries_ready_or_running(client_for, book, django_assert_num_queries):
    # Session, user, the export (own only), the permissions (2) for the page; a ready one adds nothing (its
    # rows and size are on the record, its progress in the cache).
    client = client_for("ops1")
    job = _ask(client)
    with django_assert_num_queries(5):
        _panel(client, job)
    exports.export_build(job.pk)
    with django_assert_num_queries(5):
        _panel(client, job)


def test_the_list_menu_offers_the_workbook_as_a_form_and_links_my_exports(client_for, book):
    page = client_for("manager1").get(reverse("customers:customer-list"), {"tier": "mass"}).content.decode()
    assert f'<form method="post" action="{EXPORT_URL}?tier=mass">' in page
    assert page.count('name="format" value="xlsx"') == 2  # masked, and in plain text for a revealer
    # A screen reader tells the two apart by their names, as the menu's headings do for the eye.
    assert page.count('<span class="visually-hidden"> personal data masked</span>') == 2
    assert page.count('<span class="visually-hidden"> personal data in plain text</span>') == 2
    assert reverse("exports:export-list") in page


def test_administrators_read_the_export_log_in_admin_but_get_no_file_there(client_for, book):
    job = exports.export_build(_ask(client_for("manager1"), pii="plain").pk)
    admin = client_for("admin")

    listing = admin.get(reverse("admin:reports_exportjob_changelist")).content.decode()
    assert reverse("admin:reports_exportjob_change", args=[job.pk]) in listing
    page = admin.get(reverse("admin:reports_exportjob_change", args=[job.pk]))
    assert page.status_code == 200
    assert job.file.name not in page.content.decode()
    assert client_for("ops1").get(reverse("admin:reports_exportjob_changelist")).status_code in (302, 403)


# ------------------------------------------------------------------------------------------------
# On a real worker.

@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_workbook_asked_for_in_chinese_is_written_by_the_worker_and_downloaded(client_for, book, media_worker):
    client = client_for("ops1")
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    job = _ask(client, "q=王秀英")

    wait_for(lambda: ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.READY, what="export on the worker")

    job.refresh_from_db()
    assert job.language == "zh-hans"
    rows = _sheet_rows(_download(client, job))
    assert rows[0][:2] == ("客户号", "名称")  # the worker wrote the titles in the language asked in
    assert [row[0] for row in rows[1:]] == ["C7000000001"]
    assert cache.get(exports.progress_key(job.pk)) is None


def _copies_of(customer_no: str, count: int) -> None:
    """`count` more customers like `customer_no` (numbers E000000001 …), in one statement."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'customers_customer' "
                       "AND column_name NOT IN ('id', 'customer_no')")
        columns = ", ".join(f'"{name}"' for (name,) in cursor.fetchall())
        cursor.execute(f"INSERT INTO customers_customer (customer_no, {columns}) "  # noqa: S608 - catalogue names
                       f"SELECT 'E' || lpad(g::text, 9, '0'), {columns} FROM customers_customer, "
                       f"generate_series(1, %s) AS g WHERE customer_no = %s", [count, customer_no])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_writing_is_replaced_and_the_export_ends_with_every_row_in_one_file(
        client_for, book, media_worker):
    import signal

    _copies_of("C7000000002", 40_000)
    job = _ask(client_for("ops1"))
    wait_for(lambda: (cache.get(exports.progress_key(job.pk)) or 0) >= exports.PROGRESS_EVERY, timeout=90,
             interval=0.02, what="the workbook to be part-written")
    victims = media_worker.pool_children()
    assert len(victims) == 1
    victims[0].send_signal(signal.SIGKILL)

    wait_for(lambda: ExportJob.objects.get(pk=job.pk).status == ExportJob.Status.READY, timeout=180,
             what="the redelivered export")
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.rows_total == 40_002
    folder = job.file.name.rsplit("/", 1)[0]
    assert default_storage.listdir(folder)[1] == ["customers.xlsx"]
    with default_storage.open(job.file.name, "rb") as file:
        sheet = openpyxl.load_workbook(file, read_only=True).worksheets[0]
        assert sum(1 for _row in sheet.iter_rows(values_only=True)) == 1 + 40_002
