"""Large corpora as shards: Parquet files, URIs (fsspec's memory:// and file://), folders and globs of shards,
and the same read on a real two-process Ray cluster: the same records and the same accounting as a local read."""

from __future__ import annotations

import gzip
import json
import sys
import uuid
from pathlib import Path

import pytest

from synthgap.corpora import CorpusError, load
from synthgap.corpora.problems import LoadSummary
from synthgap.corpora.reader import ReadSettings
from synthgap.corpora.sharded import read_sharded
from synthgap.records import dumps
from synthgap.scale.executor import LOCAL, ExecutorSpec

from .conftest import write_jsonl
from .ray_cluster import ray_cluster  # noqa: F401  (the module's two-node cluster)

pa = pytest.importorskip("pyarrow", reason="pyarrow (synthgap[ray]) is needed to write the test Parquet files")
pq = pytest.importorskip("pyarrow.parquet")
fsspec = pytest.importorskip("fsspec", reason="fsspec (synthgap[ray]) is needed for the URI tests")

INSTALL = "pip install 'synthgap[ray]'"


def write_parquet(path: Path, records: list, schema=None, row_group_size: int = 1 << 20) -> Path:
    """Records as Parquet, every record's keys in the schema (pyarrow's from_pylist would keep the first's)."""
    array = pa.array(records, type=pa.struct(list(schema)) if schema is not None else None)
    pq.write_table(pa.Table.from_struct_array(array), path, row_group_size=row_group_size)
    return path


def share(i: int, user: str = "hi", assistant: str = "hello", **extra) -> dict:
    return {"id": f"s{i}", "conversations": [{"from": "human", "value": f"{user} {i}"},
                                             {"from": "gpt", "value": f"{assistant} {i}"}], **extra}


def messages(summary: LoadSummary) -> list[str]:
    return [m for reason in sorted(summary.skipped_examples) for m in summary.skipped_examples[reason]]


def counts(summary: LoadSummary) -> dict:
    """What a read counted, without the names of its files."""
    data = summary.to_dict()
    data.pop("sources")
    data.pop("skipped_examples")
    return data


# --- Parquet -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["recenter_pilot/user_histories.jsonl",
                                  "prefeval_persona_driven/travel_restaurant.json"])
def test_parquet_of_a_real_corpus_reads_like_its_json_form(corpora, tmp_path, name):
    """A real corpus rewritten as Parquet (small row groups, so reads cross them) gives the same records.

    user_histories.jsonl has users with and without `conversations`, nested lists of structs with keys
    some items lack; PrefEval's `conversation` is an object keyed "0", "1", ... of varying length: Parquet
    stores what a record lacks as nulls, which must read as absent keys.
    """
    source = corpora / name
    if not source.is_file():
        pytest.skip(f"{source} is not among the real corpora here")
    text = source.read_text(encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()] if source.suffix == ".jsonl" else json.loads(text)
    parquet = write_parquet(tmp_path / f"{source.name.split('.')[0]}.parquet", records, row_group_size=7)
    assert pq.ParquetFile(parquet).metadata.num_row_groups > 3

    plain, columnar = load(source), load(parquet)
    expected, got = list(plain.histories()), list(columnar.histories())
    assert len(got) == len(records) > 30
    for row, (want, have) in enumerate(zip(expected, got), start=1):
        assert have == want, f"row {row} differs"
    assert columnar.summary.formats == plain.summary.formats and columnar.files[0].container == "parquet"
    assert counts(columnar.summary) == counts(plain.summary)
    assert columnar.summary.complete


def test_parquet_values_become_what_json_would_hold(tmp_path):
    """Nulls are absent keys (list elements stay), maps are objects, timestamps ISO text, binary UTF-8 text."""
    import datetime

    from synthgap.corpora.containers import iter_parquet

    schema = pa.schema([("id", pa.binary()), ("when", pa.timestamp("s")), ("tags", pa.map_(pa.string(), pa.int64())),
                        ("turns", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string()),
                                                      ("extra", pa.string())]))),
                        ("scores", pa.list_(pa.float64()))])
    table = pa.table({"id": [b"a", b"b\xc3\xa9"], "when": [datetime.datetime(2024, 5, 1, 12, 30), None],
                      "tags": [[("x", 1)], None],
                      "turns": [[{"role": "user", "content": "hi", "extra": None}], []],
                      "scores": [[1.5, None], None]}, schema=schema)
    pq.write_table(table, tmp_path / "t.parquet")
    units = list(iter_parquet(tmp_path / "t.parquet", LoadSummary(), batch_size=1))
    assert [u.location for u in units] == ["row 1", "row 2"]
    assert units[0].value == {"id": "a", "when": "2024-05-01T12:30:00", "tags": {"x": 1},
                              "turns": [{"role": "user", "content": "hi"}], "scores": [1.5, None]}
    assert units[1].value == {"id": "bé", "turns": []}


def test_parquet_is_streamed_by_record_batches(tmp_path, monkeypatch):
    """Rows come batch by batch: the whole-file readers are never used, and each batch is converted as it comes."""
    records = [share(i) for i in range(50)]
    path = write_parquet(tmp_path / "s.parquet", records, row_group_size=10)

    def whole_file(*args, **kwargs):
        raise AssertionError("read the whole Parquet file at once")

    monkeypatch.setattr(pq.ParquetFile, "read", whole_file)
    monkeypatch.setattr(pq, "read_table", whole_file)
    sizes = []
    original = pq.ParquetFile.iter_batches

    def spy(self, *args, **kwargs):
        for batch in original(self, *args, **kwargs):
            sizes.append(batch.num_rows)
            yield batch

    monkeypatch.setattr(pq.ParquetFile, "iter_batches", spy)
    from synthgap.corpora import containers

    monkeypatch.setattr(containers, "PARQUET_BATCH", 8)
    corpus = load(path)
    sizes.clear()  # sniffing read one small batch; now the read itself
    ids = []
    for conversation in corpus:
        ids.append(conversation.id)
        assert sum(sizes) - len(ids) < 8  # converted as the rows are needed, not ahead
    assert ids == [f"s{i}" for i in range(50)]
    assert max(sizes) == 8 and sum(sizes) == 50


SHARE_SCHEMA = [("id", pa.string()),
                ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.string())])))]


def broken_shares() -> list:
    """ShareGPT records, four of them bad for four different reasons."""
    bad_role = share(1)
    bad_role["conversations"][0]["from"] = "robot"
    empty = share(3, user=" ")
    empty["conversations"][0]["value"] = " "
    no_value = share(4)
    no_value["conversations"][1]["value"] = None
    return [share(0), bad_role, {"id": "s2"}, empty, no_value, share(5)]


def test_bad_parquet_rows_are_counted_and_named_like_bad_jsonl_lines(tmp_path):
    records = broken_shares()
    jsonl = write_jsonl(tmp_path / "shares.jsonl", records)
    parquet = write_parquet(tmp_path / "shares.parquet", records, SHARE_SCHEMA)

    lines, rows = load(jsonl, on_error="skip"), load(parquet, on_error="skip")
    assert [dumps(c) for c in rows] == [dumps(c) for c in lines]  # ids fall back to the same stem
    assert [c.id for c in rows] == ["s0", "s5"]
    assert rows.summary.skipped == lines.summary.skipped == {"unknown role": 1, "missing field": 1, "empty turn": 1,
                                                             "wrong type": 1}
    assert rows.summary.records == 6
    assert messages(rows.summary) == [m.replace(str(jsonl), str(parquet)).replace(": line ", ": row ")
                                      for m in messages(lines.summary)]
    assert any(m.startswith(f"{parquet}: row 2: unknown role: 'from' is 'robot'") for m in messages(rows.summary))

    with pytest.raises(CorpusError) as failed:
        list(load(parquet))
    assert str(failed.value).startswith(f"{parquet}: row 2: unknown role: ") and "\n" not in str(failed.value)


def test_non_utf8_parquet_text_is_a_bad_row_naming_the_field(tmp_path):
    schema = [("id", pa.string()),
              ("conversations", pa.list_(pa.struct([("from", pa.string()), ("value", pa.binary())])))]
    records = [share(i) for i in range(3)]
    for record in records:
        for turn in record["conversations"]:
            turn["value"] = turn["value"].encode()
    records[1]["conversations"][1]["value"] = b"caf\xe9"
    path = write_parquet(tmp_path / "latin1.parquet", records, schema)

    corpus = load(path, on_error="skip")
    assert [c.id for c in corpus] == ["s0", "s2"]
    assert corpus.summary.skipped == {"non-UTF-8 bytes": 1}
    assert messages(corpus.summary) == [f"{path}: row 2: non-UTF-8 bytes: field 'conversations[1].value' "
                                        "is not valid UTF-8 text"]
    with pytest.raises(CorpusError, match=r"latin1\.parquet: row 2: non-UTF-8 bytes"):
        list(load(path))


def test_an_unreadable_parquet_file_is_one_line(tmp_path):
    whole = write_parquet(tmp_path / "whole.parquet", [share(i) for i in range(20)]).read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CorpusError) as failed:
        load(cut)
    message = str(failed.value)
    assert message.startswith(f"{cut}: not a readable Parquet file") and "\n" not in message
    (tmp_path / "named.parquet").write_text('{"id": "x"}\n')
    with pytest.raises(CorpusError, match="named.parquet: not a readable Parquet file"):
        load(tmp_path / "named.parquet")


# --- folders of shards, globs and URIs -----------------------------------------------------------------

def make_shards(folder: Path) -> Path:
    """Shards of one OpenAI-messages corpus: plain, gzipped and Parquet, a bad line, users across shards,
    and files a folder read leaves out (README, Spark's _SUCCESS, hidden files)."""
    folder.mkdir(parents=True, exist_ok=True)

    def chat(i: int, user: str) -> dict:
        return {"id": f"c{i}", "user_id": user, "messages": [{"role": "user", "content": f"question {i}"},
                                                             {"role": "assistant", "content": f"answer {i}"}]}

    write_jsonl(folder / "part-000.jsonl", [chat(0, "u1"), chat(1, "u2")])
    text = json.dumps(chat(2, "u1")) + "\n" + '{"id": "c3", "messages": [\n' + json.dumps(chat(4, "u3")) + "\n"
    (folder / "part-001.jsonl").write_text(text, encoding="utf-8")
    with gzip.open(folder / "part-002.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(json.dumps(chat(5, "u2")) + "\n" + json.dumps({"id": "c6", "messages": [{"role": "wizard",
                                                                                       "content": "x"}]}) + "\n")
    write_parquet(folder / "part-003.parquet", [chat(7, "u4"), chat(8, "u1")])
    (folder / "README.md").write_text("shards of a test corpus\n")
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-000.jsonl.crc").write_bytes(b"\0\1")
    return folder


@pytest.fixture
def shards(tmp_path) -> Path:
    return make_shards(tmp_path / "shards")


@pytest.fixture
def memory_copy(shards):
    """The shards folder copied to fsspec's in-process memory:// filesystem (removed afterwards)."""
    fs = fsspec.filesystem("memory")
    root = f"/t-{uuid.uuid4().hex[:8]}/corpus"
    for path in shards.iterdir():
        fs.pipe(f"{root}/{path.name}", path.read_bytes())
    yield f"memory:/{root}"
    fs.rm(root.rsplit("/", 1)[0], recursive=True)


def read(source, **kwargs):
    corpus = load(source, on_error="skip", unit="user", **kwargs)
    return [dumps(u) for u in corpus], corpus.summary


def test_a_local_folder_of_shards_is_one_corpus_in_name_order(shards):
    corpus = load(shards, on_error="skip")
    assert [c.id for c in corpus] == ["c0", "c1", "c2", "c4", "c5", "c7", "c8"]
    summary = corpus.summary
    assert [Path(s).name for s in summary.sources] == ["part-000.jsonl", "part-001.jsonl", "part-002.jsonl.gz",
                                                      "part-003.parquet"]
    assert summary.records == 9 and summary.users == 4  # u1 and u2 appear in several shards
    assert summary.skipped == {"malformed JSON": 1, "unknown role": 1}
    assert messages(summary) == [f"{shards / 'part-001.jsonl'}: line 2: malformed JSON: Expecting value at column 1",
                                 f"{shards / 'part-002.jsonl.gz'}: line 2: unknown role: 'role' is 'wizard'; "
                                 "expected one of assistant, developer, system, user"]
    users = {u.user_id: [c.id for c in u.conversations] for u in load(shards, on_error="skip", unit="user")}
    assert users == {"u1": ["c0", "c2", "c8"], "u2": ["c1", "c5"], "u3": ["c4"], "u4": ["c7"]}


def test_a_bad_line_in_a_shard_stops_the_read_naming_the_shard(shards):
    with pytest.raises(CorpusError) as failed:
        list(load(shards))
    assert str(failed.value) == f"{shards / 'part-001.jsonl'}: line 2: malformed JSON: Expecting value at column 1"


def test_uri_folders_and_globs_read_like_the_local_folder(shards, memory_copy):
    want_records, want = read(shards)
    local_glob = str(shards / "part-*")
    file_uri = shards.as_uri()
    for source in [local_glob, memory_copy, memory_copy + "/", f"{memory_copy}/part-*", file_uri,
                   f"{file_uri}/part-00[0-3]*"]:
        records, summary = read(source)
        assert records == want_records, source
        assert counts(summary) == counts(want), source
        prefix = source.split("part-")[0].rstrip("/") if "*" in source else source.rstrip("/")
        assert summary.sources == [f"{prefix}/{Path(s).name}" for s in want.sources], source
        assert messages(summary) == [m.replace(str(shards), prefix) for m in messages(want)], source


def test_a_single_remote_file_and_a_remote_parquet_file(shards, memory_copy):
    records, summary = read(f"{memory_copy}/part-003.parquet")
    assert records == read(shards / "part-003.parquet")[0] and summary.sources == [f"{memory_copy}/part-003.parquet"]
    with pytest.raises(CorpusError) as failed:
        list(load(memory_copy))
    assert str(failed.value) == f"{memory_copy}/part-001.jsonl: line 2: malformed JSON: Expecting value at column 1"


def test_uri_mistakes_are_one_line(memory_copy):
    cases = [(f"{memory_copy}/nothing.jsonl", f"{memory_copy}/nothing.jsonl: no such file or directory"),
             (f"{memory_copy}/*.csv", f"{memory_copy}/*.csv: no corpus files match"),
             (f"{memory_copy}/README*", f"{memory_copy}/README*: no corpus files match"),
             ("nosuchscheme://bucket/x.jsonl", "nosuchscheme://bucket/x.jsonl: no filesystem reads nosuchscheme://")]
    for source, expected in cases:
        with pytest.raises(CorpusError) as failed:
            load(source)
        assert str(failed.value).startswith(expected) and "\n" not in str(failed.value), source


def test_a_protocol_whose_package_is_missing_names_it():
    with pytest.raises(CorpusError) as failed:
        load("sftp://example.invalid/corpus/")
    message = str(failed.value)
    assert message.startswith("sftp://example.invalid/corpus/: fsspec cannot open sftp:// paths here")
    assert "paramiko" in message and "\n" not in message


def test_without_pyarrow_or_fsspec_the_error_says_what_to_install(shards, memory_copy, monkeypatch):
    for name in [n for n in sys.modules if n == "pyarrow" or n.startswith("pyarrow.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(CorpusError) as failed:
        load(shards / "part-003.parquet")
    assert str(failed.value) == (f"{shards / 'part-003.parquet'}: reading Parquet needs the package pyarrow, "
                                 f"which is not installed: {INSTALL}")
    assert [c.id for c in load(shards / "part-000.jsonl")] == ["c0", "c1"]  # the rest reads without it

    for name in [n for n in sys.modules if n == "fsspec" or n.startswith("fsspec.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(CorpusError) as failed:
        load(memory_copy)
    assert str(failed.value) == (f"{memory_copy}: reading a URI needs the package fsspec, which is not installed: "
                                 f"{INSTALL}")


def test_pyarrow_filesystems_serve_protocols_fsspec_lacks(shards, monkeypatch):
    """When fsspec has no implementation for a scheme (s3 without s3fs), pyarrow.fs reads it: here file://."""
    import fsspec.core

    from synthgap.corpora import remote

    real = fsspec.core.url_to_fs

    def lacking(uri, **kwargs):
        if uri.startswith("file://"):
            raise ImportError("Install s3fs to access S3")
        return real(uri, **kwargs)

    monkeypatch.setattr(fsspec.core, "url_to_fs", lacking)
    fs, _ = remote.filesystem(shards.as_uri())
    assert type(fs).__name__ == "ArrowFSWrapper"
    records, summary = read(shards.as_uri())
    assert records == read(shards)[0] and summary.records == 9


# --- summaries and the sharded read ---------------------------------------------------------------------

def test_load_summary_crosses_as_json_and_per_file_summaries_merge_into_the_folders(shards, tmp_path):
    # a truncated last line in two shards, and more examples of one reason than a summary keeps
    for name in ("part-000.jsonl", "part-001.jsonl"):
        with open(shards / name, "a", encoding="utf-8") as fh:
            fh.write('{"id": "x", "oops"\n' * 2 + '{"id": "cut", "messages": [{"role": "us')
    whole = load(shards, on_error="skip")
    list(whole)
    parts = []
    for file in whole.files:
        corpus = load(file.path, on_error="skip")
        list(corpus)
        payload = json.loads(json.dumps({**corpus.summary.to_dict(), "complete": corpus.summary.complete}))
        parts.append(LoadSummary.from_dict(payload))
        assert parts[-1] == corpus.summary
    merged = LoadSummary.merged(parts, users=whole.summary.users)
    assert merged == whole.summary
    assert merged.skipped["malformed JSON"] == 5 and len(merged.skipped_examples["malformed JSON"]) == 3
    assert merged.truncation.count("file ends inside line") == 2
    assert not LoadSummary.merged([LoadSummary(), LoadSummary(complete=True)], users=0).complete


def test_read_sharded_on_the_local_executor_is_the_local_read(shards):
    settings = ReadSettings(skip_bad=True)
    result = read_sharded(shards, settings, LOCAL, unit="user")
    corpus = load(shards, on_error="skip", unit="user")
    assert [dumps(u) for u in result] == [dumps(u) for u in corpus]
    assert result.summary == corpus.summary and result.shards == 4 and result.records == 9
    assert [dumps(c) for c in result.conversations()] == [dumps(c) for c in load(shards, on_error="skip")]
    assert [dumps(u) for u in result.users()] == [dumps(u) for u in result.users()]  # merging copies


@pytest.fixture
def ray_in_process(monkeypatch):
    """`map_shards` answered in this process, through JSON as on Ray, results arriving in reverse order."""
    from synthgap.corpora import sharded

    class Tasks(list):
        reverse = True  # the order results arrive in

    tasks = Tasks()

    def map_shards(spec, make, shards, on_result, **kwargs):
        run = make()
        for index, shard in (reversed(shards) if tasks.reverse else shards):
            tasks.append(index)
            on_result(index, json.loads(json.dumps(run(json.loads(json.dumps(shard))))))

    monkeypatch.setattr(sharded, "map_shards", map_shards)
    return tasks


def test_shards_arriving_out_of_order_merge_in_file_order(shards, ray_in_process):
    spec = ExecutorSpec(kind="ray", shard_size=3)
    result = read_sharded(shards, ReadSettings(skip_bad=True), spec, unit="user")
    local = read_sharded(shards, ReadSettings(skip_bad=True), LOCAL, unit="user")
    assert ray_in_process == [1, 0]  # files 0-2 and file 3, the last first
    assert [dumps(h) for h in result.histories] == [dumps(h) for h in local.histories]
    assert result.summary == local.summary and (result.shards, result.records) == (4, 9)


def test_the_first_failure_in_file_order_is_the_error(shards, ray_in_process):
    """Files 1 and 2 both hold a bad record: file 1's error is raised whichever comes first, as soon as
    every file before it is in."""
    with pytest.raises(CorpusError) as local:
        list(load(shards))
    for reverse, arrived in [(True, [3, 2, 1, 0]), (False, [0, 1])]:
        ray_in_process.clear()
        ray_in_process.reverse = reverse
        with pytest.raises(CorpusError) as sharded:
            read_sharded(shards, ReadSettings(), ExecutorSpec(kind="ray"))
        assert ray_in_process == arrived
        assert str(sharded.value) == str(local.value) and sharded.value.hint == local.value.hint


def test_read_sharded_on_ray_equals_the_local_read(ray_cluster, shards):  # noqa: F811
    """Each shard read by an actor of a real two-node cluster; merged in file order on the driver."""
    settings = ReadSettings(skip_bad=True)
    local_bytes, ray_bytes = [], []
    local = read_sharded(shards, settings, LOCAL, unit="user", progress=local_bytes.append)
    on_ray = read_sharded(shards, settings, ExecutorSpec(kind="ray", address=ray_cluster), unit="user",
                          progress=ray_bytes.append)
    assert [dumps(h) for h in on_ray.histories] == [dumps(h) for h in local.histories]
    assert [dumps(u) for u in on_ray] == [dumps(u) for u in local]
    assert on_ray.summary == local.summary and on_ray.summary.complete
    assert on_ray.summary.to_dict() == local.summary.to_dict()
    assert (on_ray.shards, on_ray.records, on_ray.summary.users) == (4, 9, 4)
    assert len(ray_bytes) == 4 and sum(ray_bytes) == sum(local_bytes) > 0


@pytest.mark.slow
def test_read_sharded_on_ray_stops_at_the_first_bad_record_in_file_order(ray_cluster, shards):  # noqa: F811
    """Two files to a Ray task, a URI source: the error is the local read's, from the first broken shard."""
    source = f"{shards.as_uri()}/part-*"
    with pytest.raises(CorpusError) as local:
        list(load(source))
    with pytest.raises(CorpusError) as on_ray:
        read_sharded(source, ReadSettings(), ExecutorSpec(kind="ray", address=ray_cluster, shard_size=2))
    assert str(on_ray.value) == str(local.value) == (f"{shards.as_uri()}/part-001.jsonl: line 2: malformed JSON: "
                                                      "Expecting value at column 1")
    assert on_ray.value.hint == local.value.hint
