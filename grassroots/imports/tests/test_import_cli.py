"""``grassroots registry import FILE --user USERNAME``: the module the registry command dispatches to."""

from __future__ import annotations

import argparse
import io
import os
import time

import pytest
from django.core.management.base import BaseCommand, CommandError
from openpyxl import load_workbook

from grassroots.imports import cli, jobs
from grassroots.imports.models import ImportJob, JobStatus
from grassroots.imports.sheet import ERROR_HEADER
from grassroots.registry.models import Household

from .helpers import csv_bytes, family, row, xlsx


def run(*argv: str) -> str:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = io.StringIO()
    cli.handle(BaseCommand(stdout=out), **vars(parser.parse_args(argv)))
    return out.getvalue()


def test_import_a_file_as_a_user(community_staff, tmp_path):
    sheet = tmp_path / "台账.xlsx"
    sheet.write_bytes(xlsx([*family("CLI1", 1, 3), row("CLI2", "甲", "123", "户主")]))
    errors = tmp_path / "errors.xlsx"
    output = run(str(sheet), "--user", community_staff.username, "--errors", str(errors))
    assert "households imported 1 (3 residents)" in output and "rejected 1 (1 rows)" in output
    assert Household.objects.get(number="CLI1").members.count() == 3
    header = next(load_workbook(errors).active.iter_rows(values_only=True))
    assert header[-1] == ERROR_HEADER
    assert "households imported 0" in run(str(sheet), "--user", community_staff.username)


def test_pending_jobs_are_run(community_staff, tmp_path, settings):
    from grassroots.areas.models import Area
    from grassroots.imports import jobs

    from .helpers import upload_file

    job = jobs.do_create_job(
        community_staff,
        node=Area.objects.get(code="140302001001"),
        upload=upload_file(csv_bytes(family("CLI3", 1, 2)), "a.csv"),
        dispatch=False,
    )
    assert f"job #{job.pk} done" in run("--pending")
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.DONE


def test_refusals(community_staff, district_staff, tmp_path):
    sheet = tmp_path / "a.csv"
    sheet.write_bytes(csv_bytes(family("CLI4", 1, 1)))
    with pytest.raises(CommandError, match="--user must name an active account"):
        run(str(sheet), "--user", "nobody")
    with pytest.raises(CommandError, match="may not change the registry"):
        run(str(sheet), "--user", district_staff.username)
    with pytest.raises(CommandError, match="is not an area"):
        run(str(sheet), "--user", community_staff.username, "--node", "140303001001")
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.csv"), "--user", community_staff.username)
    (tmp_path / "b.txt").write_text("hello")
    with pytest.raises(CommandError, match="No header row"):
        run(str(tmp_path / "b.txt"), "--user", community_staff.username)


def test_purge_deletes_old_sheets(community_staff, tmp_path):
    sheet = tmp_path / "a.csv"
    sheet.write_bytes(csv_bytes(family("CLI5", 1, 1)))
    run(str(sheet), "--user", community_staff.username)
    job = ImportJob.objects.get()
    assert job.path().exists()
    assert "Deleted 0 stored sheet(s)." in run("--purge-days", "1")
    assert "Deleted 1 stored sheet(s)." in run("--purge-days", "0")
    job.refresh_from_db()
    assert not job.has_file


def test_purge_deletes_sheets_no_job_names_once_settled(community_staff, tmp_path):
    """An import killed after storing its sheet and before committing its job leaves a file with ID
    numbers in clear that no job names: a purge deletes it once it is older than an upload takes."""
    sheet = tmp_path / "a.csv"
    sheet.write_bytes(csv_bytes(family("CLI6", 1, 1)))
    run(str(sheet), "--user", community_staff.username)
    job = ImportJob.objects.get()
    directory = jobs.storage_dir()
    orphan, fresh = directory / "0123456789abcdef0123456789abcdef.csv", directory / "fedcba.csv"
    orphan.write_bytes(b"id_number\n")
    fresh.write_bytes(b"id_number\n")
    hours_ago = time.time() - 2 * 3600
    os.utime(orphan, (hours_ago, hours_ago))
    os.utime(job.path(), (hours_ago, hours_ago))  # an old sheet of a job still named: kept
    assert "Deleted 1 stored sheet(s)." in run("--purge-days", "1")
    assert not orphan.exists()
    assert fresh.exists() and job.path().exists()
