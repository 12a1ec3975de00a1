"""The append-only metrics log: writer, offset reader, tail, truncation on resume."""

from __future__ import annotations

import json
import os

from arena_core.store.metrics_log import (
    MetricsTail,
    MetricsWriter,
    read_metrics,
    truncate_job_after,
)


def test_round_trip_and_offsets(tmp_path):
    path = tmp_path / "metrics.jsonl"
    writer = MetricsWriter(path)
    writer.append({"kind": "train", "job": "a", "step": 1, "train_loss": 0.5})
    writer.append({"kind": "eval", "job": "a", "step": 2, "val_macro_f1": 0.7})
    records, offset = read_metrics(path)
    assert [r["step"] for r in records] == [1, 2]
    assert records[0]["kind"] == "train" and "time" in records[0]
    assert offset == path.stat().st_size
    assert read_metrics(path, offset) == ([], offset)
    writer.append({"kind": "train", "job": "a", "step": 3})
    more, offset2 = read_metrics(path, offset)
    assert [r["step"] for r in more] == [3] and offset2 == path.stat().st_size


def test_missing_file_reads_nothing(tmp_path):
    assert read_metrics(tmp_path / "none.jsonl", 5) == ([], 5)


def test_half_written_line_waits_until_complete(tmp_path):
    path = tmp_path / "metrics.jsonl"
    MetricsWriter(path).append({"job": "a", "step": 1})
    line = json.dumps({"job": "a", "step": 2})
    with open(path, "a") as handle:
        handle.write(line[:7])
    records, offset = read_metrics(path)
    assert [r["step"] for r in records] == [1]
    assert offset < path.stat().st_size
    with open(path, "a") as handle:
        handle.write(line[7:] + "\n")
    records, offset = read_metrics(path, offset)
    assert [r["step"] for r in records] == [2]
    assert offset == path.stat().st_size


def test_writer_never_glues_onto_a_crashed_half_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"job": "a", "step": 1}\n{"job": "a", "st')
    MetricsWriter(path).append({"job": "a", "step": 2})
    records, _ = read_metrics(path)
    assert [r["step"] for r in records] == [1, 2]


def test_malformed_lines_are_skipped(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"job": "a", "step": 1}\nnot json\n[1, 2]\n\n{"job": "a", "step": 2}\n')
    records, offset = read_metrics(path)
    assert [r["step"] for r in records] == [1, 2]
    assert offset == path.stat().st_size
    assert "malformed" in caplog.text


def test_tail_is_incremental_and_detects_replacement(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = MetricsTail(path)
    assert tail.poll() == []
    writer = MetricsWriter(path)
    writer.append({"job": "a", "step": 1})
    writer.append({"job": "a", "step": 2})
    assert [r["step"] for r in tail.poll()] == [1, 2]
    assert tail.poll() == [] and not tail.reset
    writer.append({"job": "a", "step": 3})
    assert [r["step"] for r in tail.poll()] == [3]
    assert [r["step"] for r in tail.records] == [1, 2, 3]

    # replaced by a different (even longer) file: a new inode
    replacement = tmp_path / "new.jsonl"
    replacement.write_text("".join(json.dumps({"job": "b", "step": i}) + "\n" for i in range(5)))
    os.replace(replacement, path)
    new = tail.poll()
    assert tail.reset
    assert [r["job"] for r in new] == ["b"] * 5
    assert len(tail.records) == 5

    # truncated in place: shorter than the offset
    with open(path, "w") as handle:
        handle.write(json.dumps({"job": "c", "step": 0}) + "\n")
    assert [r["job"] for r in tail.poll()] == ["c"] and tail.reset
    assert [r["job"] for r in tail.records] == ["c"]


def test_truncate_job_after(tmp_path):
    path = tmp_path / "metrics.jsonl"
    writer = MetricsWriter(path)
    for step in range(1, 6):
        writer.append({"job": "a", "step": step})
        writer.append({"job": "b", "step": step})
    with open(path, "a") as handle:
        handle.write("garbage line\n")
    assert truncate_job_after(path, "a", 3) == 2
    records, _ = read_metrics(path)
    assert [r["step"] for r in records if r["job"] == "a"] == [1, 2, 3]
    assert [r["step"] for r in records if r["job"] == "b"] == [1, 2, 3, 4, 5]
    assert "garbage line" in path.read_text()  # other lines untouched
    assert truncate_job_after(path, "a", -1) == 3
    assert all(r["job"] == "b" for r in read_metrics(path)[0])
    # the writer keeps working on the rewritten file (new inode)
    writer.append({"job": "a", "step": 1})
    assert read_metrics(path)[0][-1] == {
        "job": "a",
        "step": 1,
        "time": read_metrics(path)[0][-1]["time"],
    }
    assert truncate_job_after(tmp_path / "absent.jsonl", "a", 0) == 0
    writer.append({"kind": "test", "job": "a", "step": 1})
    assert truncate_job_after(path, "a", 1, drop_kinds=("test",)) == 1
    assert [r.get("kind") for r in read_metrics(path)[0] if r["job"] == "a"] == [None]
