"""The queue's table: what it keeps across a reopen, recovery counts, damage, refused writes,
and the gallery telling which images of a job it holds."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery import store as store_module
from sd21_desktop.gallery.files import describe_write_error
from sd21_desktop.gallery.metadata import ImageRecord
from sd21_desktop.gallery.queue_store import GUI_QUEUE, JobStore
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths


def _request(seed: int, batch_size: int = 1) -> GenerationRequest:
    return GenerationRequest(
        prompt=f"p{seed}",
        model="m/x",
        seed=seed,
        steps=2,
        width=64,
        height=64,
        batch_size=batch_size,
        mode="img2img",
        init_image="a" * 64,
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "queue.sqlite3"


def test_every_field_survives_a_reopen(path: Path) -> None:
    store = JobStore(path)
    first = store.add(GUI_QUEUE, _request(1, batch_size=3), keep_index=-1)
    second = store.add(GUI_QUEUE, _request(2), keep_index=0)
    store.add("batch:other", _request(3))
    store.set_state(first.id, "running")
    store.record_saved(first.id, 0, 17)
    store.record_saved(first.id, 2, None)
    store.set_state(second.id, "failed", "The model is broken.")
    store.set_order(GUI_QUEUE, [second.id, first.id])
    store.set_paused(GUI_QUEUE, True)
    store.close()

    store = JobStore(path)
    jobs = store.jobs(GUI_QUEUE)
    assert [job.id for job in jobs] == [second.id, first.id]
    again = jobs[1]
    assert again.request == _request(1, batch_size=3)
    assert (again.state, again.saved, again.attempts) == ("running", {0: 17, 2: None}, 1)
    assert again.started is not None
    assert again.ended is None
    assert again.wanted() == {0, 1, 2}
    assert (jobs[0].state, jobs[0].error, jobs[0].keep_index) == (
        "failed",
        "The model is broken.",
        0,
    )
    assert jobs[0].ended is not None
    assert jobs[0].wanted() == {0}
    assert store.paused(GUI_QUEUE)
    assert not store.paused("batch:other")
    inputs = sqlite3.connect(path).execute("SELECT inputs_json FROM jobs LIMIT 1").fetchone()
    assert inputs == ('["' + "a" * 64 + '"]',)  # the inputs it needs, by content id
    store.delete([second.id])
    assert [job.id for job in store.jobs(GUI_QUEUE)] == [first.id]


def test_recover_counts_an_unclean_exit_and_makes_the_jobs_runnable(path: Path) -> None:
    store = JobStore(path)
    ids = [store.add(GUI_QUEUE, _request(seed)).id for seed in range(6)]
    first = store.recover(GUI_QUEUE)
    assert (first.unclean, first.total) == (False, 6)
    store.set_state(ids[0], "finished")
    store.set_state(ids[1], "cancelled")
    store.set_state(ids[2], "failed", "no")
    store.set_state(ids[3], "running")
    store.set_state(ids[4], "not_saved", "The disk is full")
    store.close()  # killed: no end_session

    store = JobStore(path)
    recovery = store.recover(GUI_QUEUE)
    assert (recovery.unclean, recovery.waiting, recovery.running) == (True, 2, 1)
    assert set(recovery.job_ids) == {ids[3], ids[4], ids[5]}
    states = {job.id: job.state for job in store.jobs(GUI_QUEUE)}
    assert states == {ids[2]: "failed", ids[3]: "pending", ids[4]: "pending", ids[5]: "pending"}
    store.end_session(GUI_QUEUE)
    store.close()
    assert JobStore(path).recover(GUI_QUEUE).unclean is False


@pytest.mark.parametrize(
    "damage",
    [b"not a database at all" * 50, b"SQLite format 3\x00" + b"\xff" * 4000, b""],
)
def test_a_damaged_queue_is_moved_aside_with_a_notice(path: Path, damage: bytes) -> None:
    if damage:
        path.write_bytes(damage)
    else:  # a valid SQLite file whose rows cannot be read as requests
        store = JobStore(path)
        store.add(GUI_QUEUE, _request(1))
        store.close()
        connection = sqlite3.connect(path)
        connection.execute("UPDATE jobs SET request_json = '{broken'")
        connection.commit()
        connection.close()
    store = JobStore(path)
    (notice,) = store.notices
    (kept,) = path.parent.glob("queue.sqlite3.damaged-*")
    assert "The job queue was damaged" in notice
    assert kept.name in notice
    assert store.jobs(GUI_QUEUE) == []
    store.add(GUI_QUEUE, _request(2))
    assert len(store.jobs(GUI_QUEUE)) == 1


def test_a_refused_write_is_reported_once_and_never_raises(path: Path) -> None:
    problems: list[str] = []
    store = JobStore(path, on_problem=problems.append)
    job = store.add(GUI_QUEUE, _request(1))
    store._connection.execute("PRAGMA query_only = ON")  # every write now fails
    assert store.set_state(job.id, "running") is False
    assert store.record_saved(job.id, 0, 1) is False
    store.add(GUI_QUEUE, _request(2))
    assert len(problems) == 1
    assert "will not survive a restart" in problems[0]
    assert store.get(job.id).state == "pending"  # type: ignore[union-attr]


def test_an_unopenable_queue_says_what_to_do(tmp_path: Path) -> None:
    from sd21_desktop.errors import UserFacingError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(UserFacingError, match="--data-dir"):
        JobStore(blocker / "queue.sqlite3")


def test_the_gallery_knows_which_images_of_a_job_it_holds(tmp_path: Path) -> None:
    with GalleryStore(resolve_paths(tmp_path / "data")) as gallery:
        request = _request(5, batch_size=3)
        for index in (0, 2):
            gallery.add_image(
                Image.new("RGB", (8, 8)), ImageRecord(request, 5 + index, index, {"job_id": "j1"})
            )
        gallery.add_image(Image.new("RGB", (8, 8)), ImageRecord(request, 5, 0, {}))
        found = gallery.saved_by_job("j1")
        assert found.keys() == {0, 2}
        gallery.delete(found[2])
        assert gallery.saved_by_job("j1").keys() == {0}  # a deleted image is not "saved"
        assert gallery.saved_by_job("other") == {}


def test_a_save_whose_index_row_fails_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with GalleryStore(resolve_paths(tmp_path / "data")) as gallery:

        def full(*args: object) -> int:
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(store_module, "insert_written", full)
        with pytest.raises(sqlite3.OperationalError):
            gallery.add_image(Image.new("RGB", (8, 8)), ImageRecord(_request(1), 1, 0, {}))
        assert [p for p in gallery.layout.gallery_dir.rglob("*") if p.is_file()] == []
        assert describe_write_error(sqlite3.OperationalError("disk full")).startswith(
            "The gallery index could not be written"
        )


def test_a_vanished_gallery_folder_is_not_made_again(tmp_path: Path) -> None:
    with GalleryStore(resolve_paths(tmp_path / "data")) as gallery:
        folder = gallery.layout.gallery_dir
        folder.rename(tmp_path / "moved")
        with pytest.raises(FileNotFoundError) as raised:
            gallery.add_image(Image.new("RGB", (8, 8)), ImageRecord(_request(1), 1, 0, {}))
        assert not folder.exists()
        assert describe_write_error(raised.value) == f"The folder is gone ({folder})"
    hidden = OSError(errno.ENOSPC, "No space", str(tmp_path / ".x.png.1.tmp"))
    assert describe_write_error(hidden) == f"The disk is full ({tmp_path})"
