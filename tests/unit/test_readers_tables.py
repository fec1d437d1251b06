import gzip
import os
import stat

import numpy as np
import pandas as pd
import pytest

from msc_response.common import tables
from msc_response.common.errors import InputError
from msc_response.inputs import readers


def write(path, text, compress=False):
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("sep,compress", [("\t", False), (",", False), ("\t", True), (",", True)])
def test_read_counts_tsv_csv_gzip(tmp_path, sep, compress):
    text = sep.join(["gene_id", "S1", "S2"]) + "\n" + sep.join(["G1", "5", "0"]) + "\n"
    path = write(tmp_path / ("counts.txt.gz" if compress else "counts.txt"), text, compress)
    counts = readers.read_counts(path)
    assert list(counts.columns) == ["S1", "S2"]
    assert counts.loc["G1", "S1"] == 5
    assert counts.index.name == "gene_id"


def test_read_featurecounts_strips_annotation_and_bam_paths(tmp_path):
    text = (
        "# Program:featureCounts v2.0.3; Command:...\n"
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/bam/S1Aligned.sortedByCoord.out.bam\t/data/bam/S2.bam\n"
        "ENSG1\tchr1\t1\t100\t+\t100\t7\t3\n"
    )
    counts = readers.read_counts(write(tmp_path / "fc.txt", text))
    assert list(counts.columns) == ["S1", "S2"]
    assert counts.loc["ENSG1"].tolist() == [7, 3]


def test_duplicated_sample_column_is_an_error(tmp_path):
    path = write(tmp_path / "c.tsv", "gene_id\tS1\tS1\nG1\t1\t2\n")
    with pytest.raises(InputError, match="'S1'.*more than once"):
        readers.read_counts(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        readers.read_counts(tmp_path / "nope.tsv")
    with pytest.raises(InputError, match="is empty"):
        readers.read_counts(write(tmp_path / "empty.tsv", ""))


def test_sample_sheet_first_column_must_be_sample(tmp_path):
    path = write(tmp_path / "s.tsv", "id\tresponse\nS1\tresponder\n")
    with pytest.raises(InputError, match="first column must be named 'sample'"):
        readers.read_sample_sheet(path)


def test_sample_sheet_keeps_text(tmp_path):
    sheet = readers.read_sample_sheet(write(tmp_path / "s.tsv", "sample\tbatch\n01\t 2 \n"))
    assert sheet.loc[0, "sample"] == "01"
    assert sheet.loc[0, "batch"] == "2"


def test_annotation_from_gtf_and_table(tmp_path):
    gtf = (
        '#!genome-build GRCh38\n'
        'chr1\tHAVANA\tgene\t1\t10\t.\t+\t.\tgene_id "ENSG00000000001.5"; gene_name "AAA";\n'
        'chr1\tHAVANA\texon\t1\t10\t.\t+\t.\tgene_id "ENSG00000000001.5"; gene_name "AAA";\n'
        'chr1\tHAVANA\tgene\t20\t30\t.\t+\t.\tgene_id "ENSG00000000002.1";\n'
    )
    table = readers.read_annotation(write(tmp_path / "genes.gtf.gz", gtf, compress=True))
    assert table.to_dict("list") == {
        "gene_id": ["ENSG00000000001.5", "ENSG00000000002.1"],
        "symbol": ["AAA", "ENSG00000000002.1"],
    }
    # versioned IDs in the annotation match unversioned IDs in the counts and back
    symbols = readers.symbols_for(pd.Index(["ENSG00000000001", "OTHER"]), table)
    assert symbols.tolist() == ["AAA", "OTHER"]
    two_col = readers.read_annotation(write(tmp_path / "a.tsv", "id\tname\nENSG00000000003\tCCC\n"))
    assert readers.symbols_for(pd.Index(["ENSG00000000003.2"]), two_col).tolist() == ["CCC"]


def test_write_table_is_byte_identical(tmp_path):
    frame = pd.DataFrame({"a": [1.0 / 3, float("nan")], "b": ["x", "y"]})
    tables.write_table(frame, tmp_path / "1.tsv.gz")
    tables.write_table(frame, tmp_path / "2.tsv.gz")
    assert (tmp_path / "1.tsv.gz").read_bytes() == (tmp_path / "2.tsv.gz").read_bytes()
    assert gzip.open(tmp_path / "1.tsv.gz", "rt").read() == "a\tb\n0.33333333\tx\nNA\ty\n"


FRAMES = {
    "floats, ints, bools, text": pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}" for i in range(7)],
            "x": [1 / 3, float("nan"), float("inf"), -float("inf"), -0.0, 1e-300, 123456789.0],
            "n": range(7),
            "flag": [True, False] * 3 + [True],
            "status": ["tested", "low_counts", None, "tested", "a b", "", "x"],
        }
    ),
    "categorical and missing text": pd.DataFrame(
        {"s": pd.Categorical(["u", "v", None]), "y": [1.5, float("nan"), 2.0]}
    ),
    "a wide float block": pd.DataFrame(
        np.random.default_rng(1).lognormal(2, 3, size=(9000, 6)),
        columns=[f"S{i}" for i in range(6)],
    ),
    "text that needs quoting (pandas writes it)": pd.DataFrame(
        {"a": ['say "hi"', "tab\there"], "b": [1.0, 2.0]}
    ),
    "one column": pd.DataFrame({"a": ["", "x"]}),
    "one float column": pd.DataFrame({"a": [0.1, float("nan")]}),
    "text then floats with gaps": pd.DataFrame(
        {"id": ["g1", "g2", "g3"], "s1": [1e-5, float("nan"), -2.5e10], "s2": [0.0, 7.0, 1 / 7]}
    ),
}


@pytest.mark.parametrize("name", FRAMES)
@pytest.mark.parametrize("index", [False, True])
@pytest.mark.parametrize("floats_by", ["python", "numba"])
def test_table_text_is_what_pandas_writes(name, index, floats_by, monkeypatch):
    from msc_response.common import float_text

    # numba writes trailing float columns of large tables; here of every table
    monkeypatch.setattr(float_text, "MIN_CELLS", 0 if floats_by == "numba" else 10**12)
    frame = FRAMES[name]
    if index:
        frame = frame.set_axis(pd.Index([f"r{i}" for i in range(len(frame))], name="gene"))
    expected = frame.to_csv(sep="\t", index=index, float_format="%.8g", na_rep="NA")
    assert "".join(tables.table_text(frame, index=index)) == expected


def test_gzipped_table_round_trip_without_name_or_time(tmp_path):
    frame = FRAMES["a wide float block"]
    tables.write_table(frame, tmp_path / "t.tsv.gz")
    data = (tmp_path / "t.tsv.gz").read_bytes()
    assert data[3] == 0 and data[4:8] == b"\0\0\0\0", "no file name, no time stamp"
    back = pd.read_csv(tmp_path / "t.tsv.gz", sep="\t")
    np.testing.assert_allclose(back.to_numpy(), frame.to_numpy(), rtol=1e-7)


def test_tables_written_in_parallel_are_the_same_bytes(tmp_path):
    frames = [FRAMES["a wide float block"], FRAMES["floats, ints, bools, text"]] * 2
    one = [(frame, tmp_path / f"one{i}.tsv.gz") for i, frame in enumerate(frames)]
    two = [(frame, tmp_path / f"two{i}.tsv.gz") for i, frame in enumerate(frames)]
    tables.write_tables(one, processes=1)
    tables.write_tables(two, processes=2)
    for (_, a), (_, b) in zip(one, two):
        assert a.read_bytes() == b.read_bytes()
    with pytest.raises(RuntimeError, match="child process"):
        tables.write_tables([(frames[0], tmp_path / "ok.tsv"), (frames[0], tmp_path / "no/x.tsv")], 2)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    import anndata as ad

    from msc_response.inputs.carrier import write_h5ad

    old = os.umask(umask)
    try:
        tables.write_table(pd.DataFrame({"a": [1.0], "b": ["x"]}), tmp_path / "t.tsv.gz")
        tables.write_atomically(tmp_path / "blob.bin", b"data")
        write_h5ad(ad.AnnData(np.ones((2, 3))), tmp_path / "d.h5ad")
    finally:
        os.umask(old)
    for name in ("t.tsv.gz", "blob.bin", "d.h5ad"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin", "d.h5ad", "t.tsv.gz"]


# ---------------------------------------------------------------- quirks of real files


def test_sheet_with_bom_crlf_quotes_and_blank_rows(tmp_path):
    path = tmp_path / "s.csv"
    path.write_bytes(b'\xef\xbb\xbf"sample","response"\r\n"S1","responder"\r\nS2 ,no\r\n,\r\n\r\n')
    sheet = readers.read_sample_sheet(path)
    assert sheet.to_dict("list") == {"sample": ["S1", "S2"], "response": ["responder", "no"]}


def test_counts_with_bom_and_crlf(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_bytes(b"\xef\xbb\xbfgene_id\tS1\tS2\r\nG1\t1\t2\r\nG2\t3\t4\r\n")
    counts = readers.read_counts(path)
    assert list(counts.columns) == ["S1", "S2"] and counts.index.tolist() == ["G1", "G2"]
    assert counts.dtypes.tolist() == ["int64", "int64"]


def test_semicolon_separated_sheet(tmp_path):
    sheet = readers.read_sample_sheet(write(tmp_path / "s.csv", "sample;response\nS1;r\n"))
    assert list(sheet.columns) == ["sample", "response"]


@pytest.mark.parametrize(
    "data,message",
    [
        (b"PK\x03\x04rest-of-a-zip", r"is an Excel workbook \(.xlsx\).*Export it as tab-separated"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1", r"old-style Excel workbook"),
        ("sample\tresponse\nS1\tr\xe9pondeur\n".encode("latin-1"), r"is not UTF-8 text.*Save it again as UTF-8"),
        (b"sample\tage\tage\nS1\t1\t2\n", r"column\(s\) 'age' appear more than once in the header"),
        (b"Sample\tresponse\nS1\tr\n", r"first column must be named 'sample' \(found 'Sample'\)"),
        (b"response\tsample\nr\tS1\n", r"Move the 'sample' column to the front"),
        (b"sample\tresponse\nS1\tr\nS2\tr\textra\n", r"line 3: 3 tab-separated fields, but the header"),
    ],
)
def test_sheet_problems(tmp_path, data, message):
    path = tmp_path / "s.tsv"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        readers.read_sample_sheet(path)


def test_r_write_table_header_is_accepted_with_a_warning(tmp_path):
    warnings = []
    counts = readers.read_counts(write(tmp_path / "c.tsv", "S1\tS2\nG1\t1\t2\nG2\t3\t4\n"), warnings)
    assert list(counts.columns) == ["S1", "S2"] and counts.index.tolist() == ["G1", "G2"]
    assert "one field fewer than the rows" in warnings[0]


@pytest.mark.parametrize(
    "text,message",
    [
        # the gene-ID column is named, so a sample name is missing: refuse to guess
        ("gene_id\tS1\nG1\t1\t2\n", r"header has 2 fields but the rows have 3.*sample name is missing"),
        ("gene_id\tS1\nG1\t1\t2\t3\n", r"header has 2 fields but line 2 has 4"),
        ("gene_id\tS1\tS2\nG1\t1\t2\nG2\t3\t4\t5\n", r"line 3: 4 tab-separated fields, but the header"),
        ("gene_id\tS1\t\tS2\nG1\t1\t5\t2\n", r"column 3 has values but no sample name"),
    ],
)
def test_counts_header_problems(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        readers.read_counts(write(tmp_path / "c.tsv", text))


def test_trailing_separator_columns_are_dropped(tmp_path):
    warnings = []
    counts = readers.read_counts(write(tmp_path / "c.tsv", "gene_id\tS1\tS2\t\nG1\t1\t2\t\n"), warnings)
    assert list(counts.columns) == ["S1", "S2"]
    assert "empty column(s) without a header name" in warnings[0]


def test_truncated_gzip(tmp_path):
    text = "gene_id\tS1\n" + "".join(f"G{i}\t{i}\n" for i in range(20000))
    path = write(tmp_path / "c.tsv.gz", text, compress=True)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputError, match="cannot be read to the end.*truncated"):
        readers.read_counts(path)


def test_write_table_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "t.tsv"
    tables.write_table(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "a\n1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv"]

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(tables.os, "replace", broken_replace)
    with pytest.raises(OSError):
        tables.write_table(pd.DataFrame({"a": [2]}), tmp_path / "u.tsv")
    assert [p.name for p in tmp_path.iterdir()] == ["t.tsv"]


def test_written_tables_are_readable_by_others_as_the_umask_allows(tmp_path):
    previous = os.umask(0o022)
    try:
        tables.write_table(pd.DataFrame({"a": [1]}), tmp_path / "shared.tsv")
    finally:
        os.umask(previous)
    assert (tmp_path / "shared.tsv").stat().st_mode & 0o777 == 0o644
