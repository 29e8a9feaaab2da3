"""Chunk bounds found by counting line feeds are the ones csv parsing finds, and files where a record may span
lines (a quote, a bare carriage return) are parsed instead."""

import io

import pytest

from crm_site.importing.shards import _has_lone_cr, _line_bounds, _record_bounds, chunk_at, chunk_bounds


def _rows_of(data: bytes, bounds, encoding="utf-8"):
    stream = io.BytesIO(data)
    ends = [offset for offset, _number in bounds[1:]] + [None]
    return [row for (offset, number), end in zip(bounds, ends, strict=True)
            for row in chunk_at(stream, encoding, offset, number, end)]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("trailing", [True, False])
@pytest.mark.parametrize("chunk_rows", [1, 3, 7, 1000])
def test_line_bounds_split_a_file_as_its_records_do(newline, trailing, chunk_rows):
    lines = [b"\xef\xbb\xbf\xe5\xae\xa2\xe6\x88\xb7\xe5\x8f\xb7,name"]  # BOM, 客户号
    for n in range(40):
        lines.append(f"K{n},张{n}".encode())
        if n % 9 == 4:
            lines.append(b"")  # a blank line is a row number of its own
    data = newline.join(lines) + (newline if trailing else b"")
    bounds = _line_bounds(io.BytesIO(data), chunk_rows)
    assert bounds is not None
    rows = _rows_of(data, bounds)
    assert [cells[0] for _number, cells in rows] == [f"K{n}" for n in range(40)]
    # Row numbers as a spreadsheet shows them: the header is row 1, blank lines count.
    numbers = {cells[0]: number for number, cells in rows}
    assert numbers["K0"] == 2
    assert numbers["K5"] == 8  # K0..K4 on rows 2–6, the blank line after K4 is row 7
    assert numbers["K39"] == 2 + 39 + sum(1 for n in range(39) if n % 9 == 4)


def test_line_bounds_give_way_to_parsing_when_a_record_may_span_lines():
    quoted = b'no,address\nK1,"Beijing\nHaidian"\nK2,Shanghai\n'
    bare_cr = b"no,address\rK1,x\rK2,y\r"
    assert _line_bounds(io.BytesIO(quoted), 1) is None
    assert _line_bounds(io.BytesIO(bare_cr), 1) is None
    bounds = chunk_bounds(io.BytesIO(quoted), encoding="utf-8", chunk_rows=1)
    assert bounds == _record_bounds(io.BytesIO(quoted), "utf-8", 1)
    rows = _rows_of(quoted, bounds)
    assert rows == [(2, ["K1", "Beijing\nHaidian"]), (3, ["K2", "Shanghai"])]


def test_gb18030_files_split_as_bytes_too():
    data = "客户号,姓名\nK1,张三\nK2,李四\nK3,王五\n".encode("gb18030")
    bounds = chunk_bounds(io.BytesIO(data), encoding="gb18030", chunk_rows=2)
    header, two_rows = "客户号,姓名\n".encode("gb18030"), "K1,张三\nK2,李四\n".encode("gb18030")
    assert bounds == [(len(header), 2), (len(header) + len(two_rows), 4)]
    rows = [cells for _n, cells in _rows_of(data, bounds, "gb18030")]
    assert rows == [["K1", "张三"], ["K2", "李四"], ["K3", "王五"]]


@pytest.mark.parametrize("chunk_rows", [2, 5, 1000])
def test_a_byte_that_is_not_utf8_is_named_by_the_line_before_it_whichever_chunk_holds_it(chunk_rows):
    from crm_site.importing.files import FileProblem

    lines = [b"no,name"] + [f"K{n},name{n}".encode() for n in range(12)]
    lines[9] = b"K8,\xb2\xe2\xca\xd4"  # 测试 in GB18030: line 10 of the file
    data = b"\n".join(lines) + b"\n"
    bounds = _line_bounds(io.BytesIO(data), chunk_rows)
    with pytest.raises(FileProblem) as problem:
        _rows_of(data, bounds)
    assert problem.value.message == ("The file cannot be read as UTF-8 (after line 9); choose the other "
                                     "encoding.")


@pytest.mark.parametrize("size", [10, 1 << 22])  # a CR on its own, and a CRLF split across two read blocks
def test_a_file_with_a_lone_carriage_return_is_read_whole_by_every_shard(size):
    """Python's csv module on Windows without newline="" writes "\r\r\n". One process reads a record end at each
    "\r"; byte bounds would not, and shards would number rows otherwise (and the settling of repeated keys could
    then delete an unrelated row's staged copy). Such files get no bounds."""
    doubled = b"\r\r\n".join([b"no,name"] + [f"K{n},name{n}".encode() for n in range(2, 12)]) + b"\r\r\n"
    assert chunk_bounds(io.BytesIO(doubled), encoding="utf-8", chunk_rows=4) is None
    assert _has_lone_cr(io.BytesIO(doubled))
    split_crlf = b"no,name\n" + b"x" * (size - 9) + b"\r\nK2,y\r\n"  # byte `size` - 1 is the CR of a CRLF
    assert not _has_lone_cr(io.BytesIO(split_crlf))
    assert _has_lone_cr(io.BytesIO(split_crlf.replace(b"\r\nK2", b"\rK2")))
    quoted = b'no,name\r\n' + b"K1,x\r\n" * (size // 9) + b'K2,"a\r\nb"\r\n'
    assert chunk_bounds(io.BytesIO(quoted), encoding="utf-8", chunk_rows=1000) is not None
