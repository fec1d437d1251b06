import gzip

import pandas as pd
import pytest

from msc_response import io
from msc_response.errors import InputError


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
    counts = io.read_counts(path)
    assert list(counts.columns) == ["S1", "S2"]
    assert counts.loc["G1", "S1"] == 5
    assert counts.index.name == "gene_id"


def test_read_featurecounts_strips_annotation_and_bam_paths(tmp_path):
    text = (
        "# Program:featureCounts v2.0.3; Command:...\n"
        "Geneid\tChr\tStart\tEnd\tStrand\tLength\t/data/bam/S1Aligned.sortedByCoord.out.bam\t/data/bam/S2.bam\n"
        "ENSG1\tchr1\t1\t100\t+\t100\t7\t3\n"
    )
    counts = io.read_counts(write(tmp_path / "fc.txt", text))
    assert list(counts.columns) == ["S1", "S2"]
    assert counts.loc["ENSG1"].tolist() == [7, 3]


def test_duplicated_sample_column_is_an_error(tmp_path):
    path = write(tmp_path / "c.tsv", "gene_id\tS1\tS1\nG1\t1\t2\n")
    with pytest.raises(InputError, match="'S1'.*more than once"):
        io.read_counts(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        io.read_counts(tmp_path / "nope.tsv")
    with pytest.raises(InputError, match="is empty"):
        io.read_counts(write(tmp_path / "empty.tsv", ""))


def test_sample_sheet_first_column_must_be_sample(tmp_path):
    path = write(tmp_path / "s.tsv", "id\tresponse\nS1\tresponder\n")
    with pytest.raises(InputError, match="first column must be named 'sample'"):
        io.read_sample_sheet(path)


def test_sample_sheet_keeps_text(tmp_path):
    sheet = io.read_sample_sheet(write(tmp_path / "s.tsv", "sample\tbatch\n01\t 2 \n"))
    assert sheet.loc[0, "sample"] == "01"
    assert sheet.loc[0, "batch"] == "2"


def test_annotation_from_gtf_and_table(tmp_path):
    gtf = (
        '#!genome-build GRCh38\n'
        'chr1\tHAVANA\tgene\t1\t10\t.\t+\t.\tgene_id "ENSG00000000001.5"; gene_name "AAA";\n'
        'chr1\tHAVANA\texon\t1\t10\t.\t+\t.\tgene_id "ENSG00000000001.5"; gene_name "AAA";\n'
        'chr1\tHAVANA\tgene\t20\t30\t.\t+\t.\tgene_id "ENSG00000000002.1";\n'
    )
    table = io.read_annotation(write(tmp_path / "genes.gtf.gz", gtf, compress=True))
    assert table.to_dict("list") == {
        "gene_id": ["ENSG00000000001.5", "ENSG00000000002.1"],
        "symbol": ["AAA", "ENSG00000000002.1"],
    }
    # versioned IDs in the annotation match unversioned IDs in the counts and back
    symbols = io.symbols_for(pd.Index(["ENSG00000000001", "OTHER"]), table)
    assert symbols.tolist() == ["AAA", "OTHER"]
    two_col = io.read_annotation(write(tmp_path / "a.tsv", "id\tname\nENSG00000000003\tCCC\n"))
    assert io.symbols_for(pd.Index(["ENSG00000000003.2"]), two_col).tolist() == ["CCC"]


def test_write_table_is_byte_identical(tmp_path):
    frame = pd.DataFrame({"a": [1.0 / 3, float("nan")], "b": ["x", "y"]})
    io.write_table(frame, tmp_path / "1.tsv.gz")
    io.write_table(frame, tmp_path / "2.tsv.gz")
    assert (tmp_path / "1.tsv.gz").read_bytes() == (tmp_path / "2.tsv.gz").read_bytes()
    assert gzip.open(tmp_path / "1.tsv.gz", "rt").read() == "a\tb\n0.33333333\tx\nNA\ty\n"
