"""A job that stops half-way leaves whole households only, and resumes where it stopped."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from grassroots.accounts.choices import Role
from grassroots.accounts.models import Grant
from grassroots.areas.models import Area
from grassroots.imports import jobs, load
from grassroots.imports.models import ImportJob, JobStatus, PendingHousehold
from grassroots.registry.models import Household, Resident

from .helpers import COMMUNITY, family, reasons, run_import, upload_file, xlsx


@pytest.fixture
def staff(make_user):
    return make_user("youlougou", Role.COMMUNITY_STAFF, COMMUNITY)


def sheet_of(households: int, size: int = 3) -> tuple[bytes, dict[str, int]]:
    rows, sizes = [], {}
    for h in range(households):
        number = f"S{h:03d}"
        rows.extend(family(number, 10 * h + 1, size))
        sizes[number] = size
    return xlsx(rows), sizes


def assert_whole(sizes: dict[str, int]) -> set[str]:
    """Every household in the registry has all its members and its head; returns their numbers."""
    present = set()
    for household in Household.objects.filter(number__in=sizes).select_related("head"):
        assert household.members.count() == sizes[household.number], household.number
        assert household.head is not None and household.head.household_id == household.pk
        present.add(household.number)
    assert not Resident.objects.filter(household__isnull=True).exists()
    return present


class Boom(Exception):
    pass


class Killed(BaseException):
    """The process dies: nothing in the job's code catches this."""


def exploding_after(calls: int, exception: type[BaseException]):
    real = load.load_batch
    count = {"n": 0}

    def load_batch(**kwargs):
        count["n"] += 1
        if count["n"] > calls:
            # Half a batch written, then the failure: the transaction must undo it.
            real(**{**kwargs, "plans": kwargs["plans"][:1]})
            raise exception("boom")
        return real(**kwargs)

    return load_batch


def test_an_error_mid_way_leaves_whole_households_only(staff, monkeypatch):
    monkeypatch.setattr(jobs, "BATCH_ROWS", 6)  # two households per batch
    data, sizes = sheet_of(10)
    monkeypatch.setattr(load, "load_batch", exploding_after(2, Boom))
    job = run_import(staff, data)
    assert job.status == JobStatus.FAILED
    assert job.error_text.startswith("The import stopped because of an internal error")
    present = assert_whole(sizes)
    assert present == {"S000", "S001", "S002", "S003"}
    assert (job.imported_households, job.imported_residents, job.households_loaded) == (4, 12, 4)


def test_a_job_whose_process_died_resumes_exactly(staff, monkeypatch):
    monkeypatch.setattr(jobs, "BATCH_ROWS", 6)
    data, sizes = sheet_of(9)
    monkeypatch.setattr(load, "load_batch", exploding_after(3, Killed))
    job = jobs.do_create_job(
        staff, node=Area.objects.get(code=COMMUNITY), upload=upload_file(data), dispatch=False
    )
    with pytest.raises(Killed):
        jobs.process_job(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.households_loaded == 6
    assert assert_whole(sizes) == {f"S{h:03d}" for h in range(6)}
    assert PendingHousehold.objects.filter(job=job).count() == 9

    monkeypatch.undo()
    assert jobs.process_pending_jobs() == []  # its heartbeat is fresh: the worker may still be alive
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=5))
    assert jobs.process_pending_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert (job.imported_households, job.imported_residents, job.unchanged_households) == (9, 27, 0)
    assert job.processed_rows == job.total_rows == 27
    assert assert_whole(sizes) == set(sizes)
    assert not PendingHousehold.objects.filter(job=job).exists()


def test_a_process_killed_as_its_job_finishes_leaves_it_resumable(staff):
    """The job's end and the removal of its plan are one transaction: a process killed just after the
    job was marked done does not leave plan rows that nothing would delete; the job resumes."""
    data, sizes = sheet_of(3)
    job = jobs.do_create_job(
        staff, node=Area.objects.get(code=COMMUNITY), upload=upload_file(data), dispatch=False
    )

    def killed_once_marked_done(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith("UPDATE") and "imports_importjob" in sql and JobStatus.DONE in (params or ()):
            raise Killed
        return result

    with connection.execute_wrapper(killed_once_marked_done), pytest.raises(Killed):
        jobs.process_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.households_loaded) == (JobStatus.RUNNING, 3)
    assert PendingHousehold.objects.filter(job=job).count() == 3
    assert assert_whole(sizes) == set(sizes)

    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - dt.timedelta(minutes=5))
    assert jobs.process_pending_jobs() == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert (job.imported_households, job.imported_residents) == (3, 9)
    assert not PendingHousehold.objects.filter(job=job).exists()


def test_a_second_worker_cannot_claim_a_running_job(staff):
    job = jobs.do_create_job(
        staff, node=Area.objects.get(code=COMMUNITY), upload=upload_file(sheet_of(1)[0]), dispatch=False
    )
    token = jobs.claim(job.pk)
    assert token is not None and jobs.claim(job.pk) is None
    assert jobs.process_job(job.pk) is None


def test_too_many_rows_fails_the_job_with_the_limit(staff, settings):
    rows = [*family("T1", 1, 3), *family("T2", 5, 3)]
    data = xlsx(rows)
    job = jobs.do_create_job(
        staff, node=Area.objects.get(code=COMMUNITY), upload=upload_file(data), dispatch=False
    )
    # The upload checks the size the sheet declares; the rows are counted again as they are read.
    settings.GRASSROOTS = {**settings.GRASSROOTS, "IMPORT_MAX_ROWS": 5}
    job = jobs.process_job(job.pk)
    assert job.status == JobStatus.FAILED
    assert job.error_text == "The sheet has more than 5 rows: split it into several files."
    assert not Household.objects.filter(number__in=["T1", "T2"]).exists()


def test_an_uploader_who_lost_the_right_to_edit(staff):
    job = jobs.do_create_job(
        staff, node=Area.objects.get(code=COMMUNITY), upload=upload_file(sheet_of(1)[0]), dispatch=False
    )
    Grant.objects.filter(user=staff).delete()
    job = jobs.process_job(job.pk)
    assert job.status == JobStatus.FAILED
    assert job.error_text == "The uploader may no longer change the registry in this area."
    assert not Household.objects.exists() or not Household.objects.filter(number="S000").exists()


def test_a_race_with_a_registration_meanwhile_rejects_that_household_only(staff, monkeypatch):
    data, _sizes = sheet_of(3)
    job = jobs.do_create_job(
        staff, node=Area.objects.get(code=COMMUNITY), upload=upload_file(data), dispatch=False
    )
    real_check = jobs._check

    def check_then_someone_registers(job, token, layout):
        plans = real_check(job, token, layout)
        Household.objects.create(area_id="140302001001001", number="S001", address="elsewhere")
        return plans

    monkeypatch.setattr(jobs, "_check", check_then_someone_registers)
    job = jobs.process_job(job.pk)
    assert (job.imported_households, job.rejected_households, job.rejected_rows) == (2, 1, 3)
    found = reasons(job)
    assert found[5] == ["Household number S001 was registered by someone else while this import ran."]
    assert Household.objects.get(number="S001").members.count() == 0
    assert job.processed_rows == job.total_rows
