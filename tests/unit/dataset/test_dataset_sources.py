"""How a dropped file's name and bytes are read: formats by name, gzip decompressed as a stream, JSON arrays read
item by item."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Iterator

import pytest

from lambdas.dataset.json_array import iter_json_array
from lambdas.dataset.sources import SourceFormat, UnreadableSource, dataset_stem, gunzip, source_name


@pytest.mark.parametrize(
    ("name", "format_", "gzipped"),
    [
        ("incoming/data.jsonl", SourceFormat.JSONL, False),
        ("incoming/DATA.JSONL", SourceFormat.JSONL, False),
        ("data.JsonL", SourceFormat.JSONL, False),
        ("incoming/data", SourceFormat.JSONL, False),  # no extension: JSON Lines
        ("incoming/v1.2/data", SourceFormat.JSONL, False),  # a dot in a folder is not an extension
        ("incoming/faq.json", SourceFormat.JSON, False),
        ("incoming/FAQ.Json.GZ", SourceFormat.JSON, True),
        ("incoming/data.jsonl.gz", SourceFormat.JSONL, True),
        ("incoming/data.gz", SourceFormat.JSONL, True),
        ("incoming/data.csv", None, False),
        ("incoming/data.parquet", None, False),
        ("incoming/data.txt", None, False),
        ("incoming/data.zip", None, False),
        ("incoming/data.csv.gz", None, True),
        (None, SourceFormat.JSONL, False),  # a source without a name: JSON Lines
    ],
)
def test_the_name_says_how_the_file_is_read(name, format_, gzipped):
    read = source_name(name)
    assert (read.format, read.gzipped) == (format_, gzipped)


@pytest.mark.parametrize(
    ("file_name", "stem"),
    [
        ("data.jsonl", "data"),
        ("DATA.JSONL", "DATA"),
        ("faq.json", "faq"),
        ("faq.jsonl.gz", "faq"),
        ("faq.JSON.gz", "faq"),
        ("faq.gz", "faq"),
        ("faq", "faq"),
        ("faq.csv", "faq.csv"),
        ("faq.csv.gz", "faq.csv"),
    ],
)
def test_dataset_stem_leaves_out_the_extensions_the_pipeline_reads(file_name, stem):
    assert dataset_stem(file_name) == stem


# -- gzip ------------------------------------------------------------------------------------------------------------


def pieces(data: bytes, size: int = 1000) -> list[bytes]:
    return [data[start : start + size] for start in range(0, len(data), size)]


def test_gzip_is_decompressed_as_a_stream_in_bounded_pieces():
    # Given 3 MB that compress to almost nothing (the shape of a gzip "bomb", in small)
    data = b"0123456789abcdef\n" * 200_000
    # When it is decompressed 64 kB at a time
    out = list(gunzip(pieces(gzip.compress(data)), chunk_bytes=65_536))
    # Then every piece is bounded, and together they are the original
    assert max(len(piece) for piece in out) <= 65_536
    assert b"".join(out) == data


def test_a_multi_member_gzip_reads_as_one_file():
    data = gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n')
    assert b"".join(gunzip(pieces(data, 7))) == b'{"a": 1}\n{"a": 2}\n'


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b'{"question": "plain JSON named .gz"}\n', "it is not gzip data"),
        (gzip.compress(b'{"a": 1}\n' * 1000)[:-30], "it ends before the end of its compressed data"),
        (gzip.compress(b'{"a": 1}\n' * 1000)[:12] + b"\xff" * 40, "it is corrupt"),
    ],
    ids=["not-gzip", "truncated", "corrupt"],
)
def test_a_broken_gzip_is_one_clear_problem_not_a_traceback(data, detail):
    with pytest.raises(UnreadableSource) as raised:
        b"".join(gunzip(pieces(data)))
    assert raised.value.code == "corrupt_gzip"
    assert raised.value.message.startswith(f"the file is named .gz but cannot be decompressed: {detail}")
    assert "or upload it uncompressed without the .gz extension" in raised.value.message


def test_decompression_stops_past_the_bound():
    with pytest.raises(UnreadableSource) as raised:
        b"".join(gunzip([gzip.compress(b"x" * 10_000)], max_bytes=5_000, chunk_bytes=1_000))
    assert raised.value.code == "file_too_large"
    assert "decompressed, the file is more than 5,000 bytes" in raised.value.message


def test_errors_of_the_read_itself_are_not_blamed_on_the_file():
    def failing() -> Iterator[bytes]:
        yield gzip.compress(b"x" * 100)[:10]
        raise ConnectionError("the connection to S3 was reset")

    with pytest.raises(ConnectionError):
        b"".join(gunzip(failing()))


# -- JSON arrays, item by item ---------------------------------------------------------------------------------------


def array_items(data: bytes, chunk: int = 7, max_item_bytes: int = 1_000) -> list[tuple[int, object]]:
    return list(iter_json_array(pieces(data, chunk), max_item_bytes=max_item_bytes, advice="upload JSONL"))


def test_an_array_is_read_item_by_item_across_chunk_boundaries():
    # Given items of every JSON kind, numbers included (a number can be cut by a chunk boundary), pretty-printed
    items = [{"question": "Q1?", "answer": "A1."}, 12345.5e3, -1, "text, with ] and ,", [1, [2]], None, True]
    data = b"\xef\xbb\xbf" + json.dumps(items, indent=2).encode()
    for chunk in (1, 2, 3, 7, 64):
        assert array_items(data, chunk) == list(enumerate(items, start=1))
    assert array_items(b" [ ] \n") == []


def test_an_array_is_never_read_ahead_of_the_items_taken():
    # Given an endless array: reading it whole would never end
    read = 0

    def endless() -> Iterator[bytes]:
        nonlocal read
        yield b"["
        while True:
            read += 1
            yield b'{"question": "Q?", "answer": "A."},'

    # When three items are taken / Then no more than a few chunks were read
    taken = list(itertools.islice(iter_json_array(endless(), max_item_bytes=1_000), 3))
    assert [number for number, _ in taken] == [1, 2, 3]
    assert read <= 4


@pytest.mark.parametrize(
    ("data", "code", "message"),
    [
        (b'[{"a": 1}, {"a": 2,}]', "invalid_json", "item 2 of the JSON array is not valid JSON: "),
        (
            b'[{"a": 1}\n {"a": 2}]',
            "invalid_json",
            "the JSON array has no ',' or ']' after item 1 (found '{' on line 2)",
        ),
        (b'[{"a": 1}, ', "invalid_json", "the file ends inside the JSON array, before item 2"),
        (b'[{"a": 1}] [{"a": 2}]', "invalid_json", "the file goes on after the JSON array's closing ] (line 1)"),
        (b'[{"a": "caf\xe9"}]', "not_utf8", "the file is not valid UTF-8 (byte 0xe9"),
        (b'[{"a": "' + b"x" * 2_000 + b'"}]', "line_too_long", "item 1 of the JSON array (from line 1) is longer than"),
        (b"[" * 5_000 + b"]" * 5_000, "invalid_json", "nested too deeply"),
    ],
    ids=["bad-item", "no-comma", "cut-short", "after-the-end", "not-utf8", "item-too-long", "too-deep"],
)
def test_a_broken_array_ends_the_reading_with_one_problem(data, code, message):
    with pytest.raises(UnreadableSource) as raised:
        array_items(data)
    assert raised.value.code == code
    assert message in raised.value.message
    if code == "invalid_json":
        assert raised.value.message.endswith("; upload JSONL")  # what to upload instead


def test_a_syntax_error_mid_file_is_reported_where_it_is_not_as_an_overlong_item():
    # Given a broken item followed by far more data than one item may hold
    data = b'[{"a": 1}, {"a" 2}, ' + b'{"a": 3}, ' * 1_000 + b'{"a": 4}]'
    with pytest.raises(UnreadableSource) as raised:
        array_items(data, chunk=64, max_item_bytes=200)
    assert raised.value.code == "invalid_json"
    assert "item 2 of the JSON array is not valid JSON: Expecting ':' delimiter (line 1)" in raised.value.message
