"""Reading uploads (amplify.ui.upload): safe names, the size limit, problems as DataError."""

from __future__ import annotations

from pathlib import Path

import pytest

from amplify.errors import DataError
from amplify.ui.upload import headers, load_upload, safe_name, too_large

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample_posts.csv"


@pytest.mark.parametrize(
    ("name", "safe"),
    [("../../etc/passwd", "passwd"), ("my export (1).csv", "my_export_1_.csv"), ("", "upload.csv")],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_too_large_names_size_and_limit() -> None:
    assert too_large(10 * 1024 * 1024, 50) is None
    msg = too_large(60 * 1024 * 1024, 50)
    assert msg is not None
    assert "60.0 MB" in msg
    assert "limit is 50 MB" in msg


def test_load_upload_reads_a_valid_export() -> None:
    data = b"\n".join(SAMPLE.read_bytes().splitlines()[:11]) + b"\n"
    loaded = load_upload("mine.csv", data)
    assert len(loaded.posts) == 10
    assert "spend" in headers("mine.csv", data)


def test_load_upload_names_the_users_file_in_problems() -> None:
    with pytest.raises(DataError) as info:
        load_upload("report.csv", b"post_id,platform\n1,myspace\n")
    assert all(p.file.endswith("report.csv") for p in info.value.problems)
    assert any(p.row == 2 and p.column == "platform" for p in info.value.problems)
