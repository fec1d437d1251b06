"""Write the corpus of bad inputs: one small directory per problem a user can hit.

    python tests/bad_inputs/make_cases.py     # rewrites tests/bad_inputs/cases/

`_base/` holds a small valid cohort (12 MSC samples x 30 genes, design
`~ source + response`); each `cases/<name>/` holds `case.yaml` and only the files
that differ from the base. `case.yaml` keys:

- `description`: the mistake, in words;
- `stage`: where the run must stop: `parse` (before any job: config, sample sheet,
  contrasts), `check_inputs` (the counts, in rule check_inputs), `design` (a design
  problem: rule design_audit writes the audit, then check_inputs stops the run), or
  `accepted` (the input is odd but usable: the run goes on, with a warning);
- `expect`: text the terminal output must contain (the key part of the message);
- `config`: overrides of the test config (`counts`/`samples`/`annotation` are file
  names in the case directory, else in `_base/`);
- `audit_flag`: (optional) a flag the design audit must show.

Seeded and deterministic: rerunning gives the same bytes.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
BASE = HERE / "_base"
CASES = HERE / "cases"

SAMPLES = [f"MSC{i:02d}" for i in range(1, 13)]
GENES = [f"ENSG{i:011d}" for i in range(1, 31)]
RESPONSE = ["responder", "non_responder"] * 6
SOURCE = ["adipose"] * 4 + ["bone_marrow"] * 4 + ["wharton_jelly"] * 4
SEX = ["female", "female", "male", "male"] * 3
AGE = [61, 72, 55, 66, 48, 70, 59, 63, 75, 52, 68, 57]
BATCH = ["b1", "b2", "b3"] * 4


def base_counts() -> np.ndarray:
    rng = np.random.default_rng(20240601)
    means = np.exp(rng.normal(4, 1.5, size=len(GENES)))
    return rng.poisson(means[:, None] * rng.uniform(0.6, 1.4, size=len(SAMPLES)))


def counts_text(matrix=None, samples=SAMPLES, genes=GENES, sep="\t", header=None) -> str:
    matrix = base_counts() if matrix is None else matrix
    header = sep.join(["gene_id", *samples]) if header is None else header
    lines = [header] + [sep.join([g, *map(str, row)]) for g, row in zip(genes, matrix)]
    return "\n".join(lines) + "\n"


def sheet_rows(**changes) -> list[list[str]]:
    columns = {
        "sample": SAMPLES, "response": RESPONSE, "source": SOURCE,
        "sex": SEX, "age": [str(a) for a in AGE], "batch": BATCH,
    }
    for name, values in changes.items():
        columns[name] = list(values)
    names = list(columns)
    return [names] + [list(row) for row in zip(*(columns[n] for n in names))]


def sheet_text(rows=None, sep="\t", **changes) -> str:
    rows = sheet_rows(**changes) if rows is None else rows
    return "".join(sep.join(row) + "\n" for row in rows)


def with_cell(row: int, column: int, value: str) -> str:
    """Base counts with one cell (0-based gene row, sample column) replaced."""
    lines = counts_text().splitlines()
    fields = lines[row + 1].split("\t")
    fields[column + 1] = value
    lines[row + 1] = "\t".join(fields)
    return "\n".join(lines) + "\n"


def case(stage, description, expect, files=None, config=None, audit_flag=None):
    spec = {"description": description, "stage": stage, "expect": expect}
    if config:
        spec["config"] = config
    if audit_flag:
        spec["audit_flag"] = audit_flag
    return spec, files or {}


def gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)


def cells_h5ad(obs: dict | None = None, **kwargs) -> bytes:
    """The base counts as single cells (raw counts in layers['counts'], log data in X),
    as the bytes of an .h5ad file; `obs`: extra obs columns (name -> one value)."""
    import sys
    import tempfile

    import pandas as pd

    sys.path.insert(0, str(HERE.parents[1] / "workflow" / "scripts"))
    from msc_response.example.single_cell import cells_from_counts

    counts = pd.DataFrame(base_counts(), index=GENES, columns=SAMPLES)
    cells = cells_from_counts(counts, cells_per_sample=(20, 30), seed=4, **kwargs)
    for column, value in (obs or {}).items():
        cells.obs[column] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cells.h5ad"
        cells.write_h5ad(path)
        return path.read_bytes()


def build() -> dict:
    c = {}
    counts = base_counts()
    # ------------------------------------------------------------ config (parse time)
    c["config_unknown_key"] = case(
        "parse", "A typo in a top-level config key.",
        ["unknown key 'desing' (did you mean 'design'?)"], config={"desing": "~ response"})
    c["config_unknown_nested_key"] = case(
        "parse", "A typo in a key of a section.",
        ["unknown key 'diffexp.alpah' (did you mean 'alpha'?)"], config={"diffexp": {"alpah": 0.1}})
    c["config_value_out_of_range"] = case(
        "parse", "alpha must be between 0 and 1.",
        ["'diffexp.alpha': 5 is greater than or equal to the maximum of 1"],
        config={"diffexp": {"alpha": 5}})
    c["config_yaml_boolean_level"] = case(
        "parse", "Unquoted yes/no levels, which YAML reads as true/false.",
        ["'contrasts.treated_vs_untreated.test': YAML reads an unquoted yes/true/on as True"],
        config={"contrasts": {"treated_vs_untreated": {"variable": "treated", "test": True, "reference": False}}})
    c["config_bad_contrast_name"] = case(
        "parse", "A contrast name with spaces (contrast names become file names).",
        ["'contrasts': the name 'responder vs non' may use only letters, digits"],
        config={"contrasts": {"responder vs non": {"variable": "response", "test": "responder", "reference": "non_responder"}}})
    c["config_unknown_categorical_variable"] = case(
        "parse", "categorical_variables names a column the sheet does not have.",
        ["config 'categorical_variables' lists 'btach'", "(did you mean 'batch'?)"],
        config={"categorical_variables": ["btach"]})
    # ------------------------------------------------------------ files (parse time)
    c["counts_file_missing"] = case(
        "parse", "The counts path points nowhere.",
        ["Counts file", "does_not_exist.tsv' does not exist"], config={"counts": "does_not_exist.tsv"})
    c["counts_file_empty"] = case(
        "parse", "A zero-byte counts file (a failed copy).",
        ["counts.tsv' is empty (0 bytes)"], files={"counts.tsv": ""})
    c["samples_file_missing"] = case(
        "parse", "The sample sheet path points nowhere.",
        ["Sample sheet file", "nope.tsv' does not exist"], config={"samples": "nope.tsv"})
    c["annotation_file_missing"] = case(
        "parse", "The annotation path points nowhere.",
        ["Annotation file", "genes.gtf' does not exist"], config={"annotation": "genes.gtf"})
    # ------------------------------------------------------------ gene sets (parse time)
    mine = {"enrichment": {"collections": {"mine": {"gmt": "sets.gmt", "min_size": 2}}}}
    c["gene_sets_gmt_missing"] = case(
        "parse", "A gene-set collection's GMT path points nowhere.",
        ["Gene-set collection 'mine': GMT file 'nope.gmt' does not exist",
         "enrichment.collections.mine.gmt"],
        config={"enrichment": {"collections": {"mine": {"gmt": "nope.gmt"}}}})
    c["gene_sets_gmt_empty"] = case(
        "parse", "A zero-byte GMT file.",
        ["Gene-set collection 'mine': GMT file", "sets.gmt' is empty (0 bytes)"],
        files={"sets.gmt": ""}, config=mine)
    c["gene_sets_gmt_spaces"] = case(
        "parse", "A GMT whose second line is separated by spaces, not tabs.",
        ["sets.gmt', line 2: its fields are separated by spaces, not tabs"],
        files={"sets.gmt": "SET_A\tna\tIL6\tTNF\nSET_B na VEGFA KDR\n"}, config=mine)
    c["gene_sets_gmt_line_without_genes"] = case(
        "parse", "A GMT line with a name and a description but no genes.",
        ["sets.gmt', line 3: it has 2 tab-separated field(s)"],
        files={"sets.gmt": "SET_A\tna\tIL6\tTNF\nSET_B\tna\tVEGFA\nSET_C\tonly a description\n"},
        config=mine)
    c["config_enrichment_ranking_without_shrinkage"] = case(
        "parse", "GSEA ranked by shrunken fold changes that are switched off.",
        ["enrichment.ranking is 'log2FoldChange_shrunk' but diffexp.lfc_shrinkage is false"],
        config={"enrichment": {"ranking": "log2FoldChange_shrunk"},
                "diffexp": {"lfc_shrinkage": False}})
    # ------------------------------------------------------------ sample sheet (parse time)
    c["sheet_excel_workbook"] = case(
        "parse", "An .xlsx workbook given as the sample sheet.",
        ["is an Excel workbook (.xlsx)", "Export it as tab-separated text"],
        files={"samples.xlsx": b"PK\x03\x04" + bytes(60)}, config={"samples": "samples.xlsx"})
    c["sheet_latin1"] = case(
        "parse", "A sheet saved as Windows-1252 (accented character in a value).",
        ["samples.tsv' is not UTF-8 text", "Save it again as UTF-8"],
        files={"samples.tsv": sheet_text(source=["Gewebe_gelöst"] * 12).encode("cp1252")})
    rows = sheet_rows()
    rows[4] = rows[4] + ["extra"]
    c["sheet_row_with_extra_field"] = case(
        "parse", "A row with one field more than the header (a stray tab).",
        ["samples.tsv', line 5: 7 tab-separated fields, but the header (and the lines before) have 6"],
        files={"samples.tsv": sheet_text(rows)})
    rows = sheet_rows()
    rows[0][0] = "id"
    c["sheet_first_column_not_sample"] = case(
        "parse", "The first column is not called 'sample'.",
        ["the first column must be named 'sample' (found 'id')"], files={"samples.tsv": sheet_text(rows)})
    c["sheet_duplicate_sample"] = case(
        "parse", "A sample listed twice.",
        ["sample(s) 'MSC03' appear more than once in column 'sample' ('MSC03' on rows 4, 5)"],
        files={"samples.tsv": sheet_text(sample=SAMPLES[:3] + ["MSC03"] + SAMPLES[4:])})
    rows = sheet_rows()
    rows[0][5] = "age"
    c["sheet_duplicate_column"] = case(
        "parse", "Two columns with the same name.",
        ["column(s) 'age' appear more than once in the header"], files={"samples.tsv": sheet_text(rows)})
    c["sheet_space_in_sample_name"] = case(
        "parse", "A sample name with a space.",
        ["row 4: sample name 'MSC 03' contains a space", "('MSC_03')"],
        files={"samples.tsv": sheet_text(sample=SAMPLES[:2] + ["MSC 03"] + SAMPLES[3:])})
    c["sheet_empty_sample_name"] = case(
        "parse", "A row without a sample name.",
        ["row 6: the 'sample' value is empty"],
        files={"samples.tsv": sheet_text(sample=SAMPLES[:4] + [""] + SAMPLES[5:])})
    c["sheet_missing_design_value"] = case(
        "parse", "NA in a design variable.",
        ["row 3 (sample 'MSC02'): design variable 'response' is missing ('NA'; 1 sample(s) in all)"],
        files={"samples.tsv": sheet_text(response=["responder", "NA"] + RESPONSE[2:])})
    c["sheet_typo_in_numeric_column"] = case(
        "parse", "A letter O for a zero in a continuous covariate.",
        ["row 5 (sample 'MSC04'): '6O' in column 'age' is not a number"],
        files={"samples.tsv": sheet_text(age=["61", "72", "55", "6O", *map(str, AGE[4:])])},
        config={"design": "~ age + response"})
    c["sheet_header_only"] = case(
        "parse", "A sheet with a header and no rows.",
        ["has a header but no samples"], files={"samples.tsv": sheet_text(sheet_rows()[:1])})
    # ------------------------------------------------------------ design and contrasts (parse time)
    c["design_variable_not_in_sheet"] = case(
        "parse", "The design uses a variable with no column in the sheet.",
        ["config 'design' uses 'tissue', which the sample sheet", "has no column for"],
        config={"design": "~ tissue + response"})
    c["design_variable_wrong_case"] = case(
        "parse", "The design spells a column with another case.",
        ["uses 'Source'", "(did you mean 'source'?)"], config={"design": "~ Source + response"})
    c["design_unparseable"] = case(
        "parse", "A formula that does not parse.",
        ["config 'design': cannot parse '~ source +'"], config={"design": "~ source +"})
    c["design_not_a_formula"] = case(
        "parse", "A design without the tilde.",
        ["'design': 'source + response' is not a formula"], config={"design": "source + response"})
    c["contrast_level_missing"] = case(
        "parse", "A contrast level that does not occur (spelling).",
        ["reference level 'nonresponder' does not occur in column 'response'",
         "Did you mean 'non_responder'?"],
        config={"contrasts": {"r": {"variable": "response", "test": "responder", "reference": "nonresponder"}}})
    c["contrast_variable_not_in_design"] = case(
        "parse", "A contrast on a variable the design does not have.",
        ["variable 'sex' is not in the design '~ source + response'", "Add it to the design"],
        config={"contrasts": {"sex": {"variable": "sex", "test": "male", "reference": "female"}}})
    c["contrast_variable_numeric"] = case(
        "parse", "The contrast variable is coded 0/1, so it reads as a number.",
        ["variable 'response' holds numbers", "add 'categorical_variables: [response]'"],
        files={"samples.tsv": sheet_text(response=["1", "0"] * 6)},
        config={"contrasts": {"r": {"variable": "response", "test": 1, "reference": 0}}})
    c["contrast_same_levels"] = case(
        "parse", "test and reference are the same level.",
        ["test and reference are both 'responder'"],
        config={"contrasts": {"r": {"variable": "response", "test": "responder", "reference": "responder"}}})
    # ------------------------------------------------------------ counts (rule check_inputs)
    c["counts_sample_missing"] = case(
        "check_inputs", "A sheet sample has no counts column (named differently).",
        ["lists sample(s) 'MSC03' that have no column in counts file", "did you mean 'MSC-03'?"],
        files={"counts.tsv": counts_text(samples=SAMPLES[:2] + ["MSC-03"] + SAMPLES[3:])})
    c["counts_extra_column_error"] = case(
        "check_inputs", "A counts column not in the sheet, with extra_count_columns: error.",
        ["has column(s) 'MSC99' that are not in sample sheet",
         "or set 'extra_count_columns: drop'"],
        files={"counts.tsv": counts_text(np.hstack([counts, counts[:, :1]]), SAMPLES + ["MSC99"])},
        config={"extra_count_columns": "error"})
    c["counts_duplicate_gene"] = case(
        "check_inputs", "The same gene ID on two rows.",
        ["gene ID(s) 'ENSG00000000002' appear more than once in the first column ('ENSG00000000002' on rows 3, 6"],
        files={"counts.tsv": counts_text(genes=GENES[:4] + [GENES[1]] + GENES[5:])})
    c["counts_duplicate_sample_column"] = case(
        "check_inputs", "Two counts columns with the same sample name.",
        ["sample column(s) 'MSC02' appear more than once in the header"],
        files={"counts.tsv": counts_text(samples=SAMPLES[:2] + ["MSC02"] + SAMPLES[3:])})
    c["counts_negative"] = case(
        "check_inputs", "A negative count.",
        ["gene 'ENSG00000000004' (row 5), sample 'MSC03': the count -3 is negative"],
        files={"counts.tsv": with_cell(3, 2, "-3")})
    c["counts_fractional"] = case(
        "check_inputs", "Estimated (fractional) counts, e.g. from salmon without rounding.",
        ["sample 'MSC02': the count 12.5 is not a whole number", "not normalised values, TPM",
         "'quantifications:' block", "'round_counts: true'"],
        files={"counts.tsv": with_cell(6, 1, "12.5")})
    c["single_cell_log_data"] = case(
        "check_inputs", "Single cells whose chosen matrix (.X) holds log-normalised values.",
        [".X holds the value", "is not a whole number", "layers['counts']"],
        files={"cells.h5ad": cells_h5ad(sample_column="donor")},
        config={"counts": "cells.h5ad", "single_cell": {"layer": None, "sample_column": "donor"}})
    c["single_cell_sample_column_missing"] = case(
        "check_inputs", "Single cells without the obs column that names their sample.",
        ["has no obs column 'patient'", "its obs columns: 'donor', 'population'"],
        files={"cells.h5ad": cells_h5ad(sample_column="donor")},
        config={"counts": "cells.h5ad",
                "single_cell": {"layer": "counts", "sample_column": "patient"}})
    c["single_cell_group_by_missing"] = case(
        "parse", "Per-population analysis asked for with an obs column the cells lack.",
        ["has no obs column 'leiden' (single_cell.group_by)", "its obs columns: 'donor', "
         "'population'", "Set 'single_cell: group_by' to the column"],
        files={"cells.h5ad": cells_h5ad(sample_column="donor")},
        config={"counts": "cells.h5ad",
                "single_cell": {"layer": "counts", "sample_column": "donor",
                                "group_by": "leiden"}})
    c["single_cell_group_by_one_value"] = case(
        "parse", "Per-population analysis by an obs column that holds a single population.",
        ["obs column 'tissue' (single_cell.group_by) holds a single population "
         "('bone_marrow')", "or set 'group_by: null'"],
        files={"cells.h5ad": cells_h5ad(sample_column="donor", obs={"tissue": "bone_marrow"})},
        config={"counts": "cells.h5ad",
                "single_cell": {"layer": "counts", "sample_column": "donor",
                                "group_by": "tissue"}})
    c["single_cell_without_block"] = case(
        "check_inputs", "A cells .h5ad given as counts without the single_cell block.",
        ["is an HDF5 file (.h5/.h5ad), not a text table", "add a 'single_cell:' block"],
        files={"cells.h5ad": cells_h5ad(sample_column="sample")},
        config={"counts": "cells.h5ad"})
    nfcore = counts_text(header="\t".join(["gene_id", "gene_name", *SAMPLES]))
    nfcore_lines = nfcore.splitlines()
    nfcore_lines[1:] = [
        "\t".join([f[0], f"SYM{k + 1}", *(f"{int(v) + 0.25 * ((k + j) % 3 - 1):.2f}" for j, v in enumerate(f[1:]))])
        for k, f in enumerate(line.split("\t") for line in nfcore_lines[1:])
    ]
    c["accepted_nfcore_length_scaled_rounded"] = case(
        "accepted", "nf-core/rnaseq's salmon.merged.gene_counts_length_scaled.tsv (gene_name column, "
        "fractional counts) with round_counts: true.",
        ["counts were not whole numbers and were rounded (round_counts: true"],
        files={"counts.tsv": "\n".join(nfcore_lines) + "\n"}, config={"round_counts": True})
    c["counts_non_numeric"] = case(
        "check_inputs", "A cell that is not a number.",
        ["gene 'ENSG00000000010' (row 11), sample 'MSC07': '12a' is not a number"],
        files={"counts.tsv": with_cell(9, 6, "12a")})
    c["counts_missing_value"] = case(
        "check_inputs", "An empty cell.",
        ["gene 'ENSG00000000008' (row 9), sample 'MSC12': the count is missing"],
        files={"counts.tsv": with_cell(7, 11, "")})
    c["counts_annotation_column"] = case(
        "check_inputs", "A gene-symbol column between the IDs and the counts.",
        ["column 'symbol' holds text", "remove annotation columns such as 'symbol'"],
        files={"counts.tsv": "\n".join(
            "\t".join([f[0], "symbol" if i == 0 else f"SYM{i}", *f[1:]])
            for i, f in enumerate(line.split("\t") for line in counts_text().splitlines())) + "\n"})
    c["counts_header_only"] = case(
        "check_inputs", "A counts file with a header and no genes.",
        ["has 0 gene rows and 12 sample columns"], files={"counts.tsv": counts_text().splitlines()[0] + "\n"})
    c["counts_header_missing_a_sample"] = case(
        "check_inputs", "The header has one name fewer than the rows, and names the gene column.",
        ["the header has 12 fields but the rows have 13", "a sample name is missing from the header"],
        files={"counts.tsv": counts_text(header="\t".join(["gene_id", *SAMPLES[:11]]))})
    lines = counts_text().splitlines()
    lines[5] += "\t7"
    c["counts_row_too_long"] = case(
        "check_inputs", "One row with an extra field.",
        ["counts.tsv', line 6: 14 tab-separated fields, but the header (and the lines before) have 13"],
        files={"counts.tsv": "\n".join(lines) + "\n"})
    c["counts_truncated_gzip"] = case(
        "check_inputs", "A gzipped counts file cut short (interrupted download).",
        ["counts.tsv.gz' cannot be read to the end", "is it truncated?"],
        files={"counts.tsv.gz": gz(counts_text())[:-40]}, config={"counts": "counts.tsv.gz"})
    zero = counts.copy()
    zero[:, 4] = 0
    c["counts_all_zero_sample"] = case(
        "check_inputs", "A failed library: zero counts for every gene.",
        ["sample(s) 'MSC05' have zero counts for every gene"], files={"counts.tsv": counts_text(zero)})
    c["counts_transposed"] = case(
        "check_inputs", "Samples as rows and genes as columns.",
        ["looks transposed", "genes as rows and samples as columns"],
        files={"counts.tsv": counts_text(counts.T, samples=GENES, genes=SAMPLES)})
    c["counts_gene_id_missing"] = case(
        "check_inputs", "A row without a gene ID.",
        ["row 4: the gene ID (first column) is empty or NA"],
        files={"counts.tsv": counts_text(genes=GENES[:2] + [""] + GENES[3:])})
    # ------------------------------------------------------------ design (audit, then check_inputs)
    c["design_confounded"] = case(
        "design", "Responders all from adipose/bone marrow, non-responders all from Wharton's jelly.",
        ["not full rank: 'response' is confounded with 'source' (response = non_responder only with "
         "source = wharton_jelly; response = responder only with source = adipose, bone_marrow)"],
        files={"samples.tsv": sheet_text(source=[
            ("adipose" if i % 4 == 0 else "bone_marrow") if r == "responder" else "wharton_jelly"
            for i, r in enumerate(RESPONSE)])},
        audit_flag="confounded")
    c["design_covariate_constant_per_group"] = case(
        "design", "A continuous covariate that is constant within each response group.",
        ["'age' is constant within each level of 'response'"],
        files={"samples.tsv": sheet_text(age=["70" if r == "responder" else "50" for r in RESPONSE])},
        config={"design": "~ age + response"}, audit_flag="confounded")
    c["design_single_replicate"] = case(
        "design", "A tissue source with a single sample.",
        ["Design variable 'source': level(s) 'umbilical_cord' have fewer than two samples"],
        files={"samples.tsv": sheet_text(source=SOURCE[:11] + ["umbilical_cord"])}, audit_flag="error")
    c["design_single_level"] = case(
        "design", "A design variable with one level only.",
        ["Design variable 'sex' has a single level ('female')"],
        files={"samples.tsv": sheet_text(sex=["female"] * 12)}, config={"design": "~ sex + response"})
    c["design_no_residual_df"] = case(
        "design", "As many coefficients as samples.",
        ["has 4 coefficients for 4 samples: no residual degrees of freedom"],
        files={"samples.tsv": sheet_text(sheet_rows(
            sample=SAMPLES[:4], response=["responder", "non_responder"] * 2,
            source=["adipose", "adipose", "bone_marrow", "bone_marrow"],
            sex=["male", "female", "female", "male"], age=map(str, AGE[:4]), batch=BATCH[:4]))},
        config={"design": "~ sex + source + response"}, audit_flag="error")
    # ------------------------------------------------------------ odd but usable inputs
    c["accepted_sheet_bom_crlf_quotes"] = case(
        "accepted", "A sheet saved by Excel on Windows: UTF-8 BOM, CRLF, quoted values, blank rows.",
        [], files={"samples.csv": b"\xef\xbb\xbf" + "".join(
            ",".join(f'"{v}"' for v in row) + "\r\n" for row in sheet_rows()).encode() + b",,,,,\r\n"},
        config={"samples": "samples.csv"})
    c["accepted_r_write_table_header"] = case(
        "accepted", "Counts written by R's write.table: no header field for the gene IDs.",
        ["the header has one field fewer than the rows (as R's write.table writes it)"],
        files={"counts.tsv": counts_text(header="\t".join(SAMPLES))})
    c["accepted_excel_dates_in_gene_ids"] = case(
        "accepted", "Gene symbols turned into dates by Excel.",
        ["2 gene ID(s) look like dates ('1-Mar', '2-Sep')"],
        files={"counts.tsv": counts_text(genes=GENES[:5] + ["1-Mar", "2-Sep"] + GENES[7:])})
    c["accepted_extra_count_column_dropped"] = case(
        "accepted", "A counts column not in the sheet (default extra_count_columns: drop).",
        ["has column(s) 'MSC99' that are not in sample sheet", "they are left out of the analysis"],
        files={"counts.tsv": counts_text(np.hstack([counts, counts[:, :1]]), SAMPLES + ["MSC99"])})
    c["accepted_nearly_confounded"] = case(
        "accepted", "Response strongly, not fully, associated with tissue source.",
        ["design audit: 'response' is strongly associated with 'source' (cramers_v = 0.85 >= 0.8)"],
        files={"samples.tsv": sheet_text(source=[
            "adipose" if r == "responder" or i == 1 else "wharton_jelly"
            for i, r in enumerate(RESPONSE)])},
        audit_flag="nearly_confounded")
    c["accepted_numeric_batch"] = case(
        "accepted", "batch coded 1/2/3, modelled as continuous unless listed as categorical.",
        ["design variable 'batch' is numeric with only 3 distinct values",
         "list it under 'categorical_variables'"],
        files={"samples.tsv": sheet_text(batch=["1", "2", "3"] * 4)},
        config={"design": "~ batch + response"})
    c["accepted_level_typo"] = case(
        "accepted", "A level typed two ways ('Responder' and 'responder').",
        ["levels 'Responder', 'responder' differ only in case"],
        files={"samples.tsv": sheet_text(response=["Responder", "non_responder"] * 2 + RESPONSE[4:])})
    c.update(count_file_cases(counts))
    c.update(quantification_cases(counts))
    return c


# ------------------------------------------------------------ per-sample count files


def star_text(column, seed: int, strand="reverse") -> str:
    """A STAR ReadsPerGene.out.tab of a reverse-stranded library with these counts."""
    rng = np.random.default_rng(seed)
    antisense = rng.binomial(column, 0.02)
    lines = ["N_unmapped\t900\t900\t900", "N_multimapping\t400\t400\t400",
             f"N_noFeature\t120\t{int(column.sum())}\t130", "N_ambiguous\t20\t1\t2"]
    lines += [f"{g}\t{a + b}\t{b}\t{a}" for g, a, b in zip(GENES, column, antisense)]
    return "\n".join(lines) + "\n"


def htseq_text(column, genes=GENES) -> str:
    lines = [f"{g}\t{n}" for g, n in zip(genes, column)]
    lines += ["__no_feature\t310", "__ambiguous\t12", "__too_low_aQual\t4", "__not_aligned\t50",
              "__alignment_not_unique\t75"]
    return "\n".join(lines) + "\n"


def per_sample(texts: dict[str, str], column: str, suffix: str) -> dict[str, str]:
    """Each sample's file beside a sample sheet naming them in `column`."""
    files = {f"{s}{suffix}": texts[s] for s in SAMPLES}
    files["samples.tsv"] = sheet_text(**{column: [f"{s}{suffix}" for s in SAMPLES]})
    return files


def count_file_cases(counts) -> dict:
    c = {}
    star = {s: star_text(counts[:, i], i) for i, s in enumerate(SAMPLES)}
    htseq = {s: htseq_text(counts[:, i]) for i, s in enumerate(SAMPLES)}
    star_config = {"counts": None, "count_files": {"column": "star", "format": "star", "strand": "reverse"}}
    htseq_config = {"counts": None, "count_files": {"column": "htseq", "format": "htseq"}}
    files = per_sample(star, "star", ".ReadsPerGene.out.tab")
    del files["MSC05.ReadsPerGene.out.tab"]
    c["count_files_missing_file"] = case(
        "parse", "A sample's STAR file is not where the sample sheet says.",
        ["row 6 (sample 'MSC05'): STAR ReadsPerGene.out.tab file 'MSC05.ReadsPerGene.out.tab' does not exist"],
        files=files, config=star_config)
    files = per_sample(star, "star", ".ReadsPerGene.out.tab")
    lines = files["MSC03.ReadsPerGene.out.tab"].splitlines()
    lines[7] = lines[7].rsplit("\t", 1)[0]
    files["MSC03.ReadsPerGene.out.tab"] = "\n".join(lines) + "\n"
    c["count_files_star_wrong_columns"] = case(
        "check_inputs", "A STAR file with a line of three columns (a truncated or edited file).",
        ["MSC03.ReadsPerGene.out.tab' (sample 'MSC03'), line 8: 3 tab-separated column(s), but a "
         "STAR ReadsPerGene.out.tab file has 4"],
        files=files, config=star_config)
    files = per_sample(htseq, "htseq", ".counts.txt")
    other = [g.replace("ENSG", "ENSMUSG") if k < 6 else g for k, g in enumerate(GENES)]
    files["MSC07.counts.txt"] = htseq_text(counts[:, 6], other)
    c["count_files_htseq_other_annotation"] = case(
        "check_inputs", "One HTSeq file counted against another annotation (other gene IDs).",
        ["MSC07.counts.txt' (sample 'MSC07') lists other genes than", "6 gene(s) of",
         "different annotations (GTF versions)"],
        files=files, config=htseq_config)
    return c


# ------------------------------------------------------------ transcript quantifications

TRANSCRIPTS = [f"ENST{i:011d}.{1 + i % 2}" for i in range(1, 2 * len(GENES) + 1)]
QUANT_GENES = [GENES[i // 2] for i in range(len(TRANSCRIPTS))]


def salmon_texts(counts, kallisto=False) -> dict[str, str]:
    """quant.sf (or kallisto's abundance.tsv) per sample: each gene's counts split over
    two isoforms, as fractional estimates."""
    rng = np.random.default_rng(7)
    lengths = rng.integers(500, 4000, len(TRANSCRIPTS))
    share = rng.uniform(0.2, 0.8, len(GENES))
    texts = {}
    for i, sample in enumerate(SAMPLES):
        per_gene = counts[:, i]
        estimated = np.column_stack([per_gene * share, per_gene * (1 - share)]).ravel()
        effective = lengths - 180.0 - i
        rate = estimated / effective
        tpm = rate / rate.sum() * 1e6
        if kallisto:
            header = "target_id\tlength\teff_length\test_counts\ttpm"
            rows = [f"{t}\t{n}\t{e:.3f}\t{c:.3f}\t{p:.6g}" for t, n, e, c, p in
                    zip(TRANSCRIPTS, lengths, effective, estimated, tpm)]
        else:
            header = "Name\tLength\tEffectiveLength\tTPM\tNumReads"
            rows = [f"{t}\t{n}\t{e:.3f}\t{p:.6g}\t{c:.3f}" for t, n, e, c, p in
                    zip(TRANSCRIPTS, lengths, effective, estimated, tpm)]
        texts[sample] = "\n".join([header, *rows]) + "\n"
    return texts


def tx2gene_text(transcripts=TRANSCRIPTS) -> str:
    lines = ["transcript_id\tgene_id\tsymbol"]
    lines += [f"{t}\t{g}\tSYM{GENES.index(g) + 1}" for t, g in zip(transcripts, QUANT_GENES)]
    return "\n".join(lines) + "\n"


def quantification_cases(counts) -> dict:
    c = {}
    salmon = salmon_texts(counts)
    config = {"counts": None, "quantifications": {
        "tool": "salmon", "column": "quant", "tx2gene": "tx2gene.tsv",
        "counts_from_abundance": "length_scaled_tpm"}}

    def files_with(texts=salmon, tx2gene=None):
        files = per_sample(texts, "quant", ".quant.sf")
        files["tx2gene.tsv"] = tx2gene or tx2gene_text()
        return files

    c["accepted_quantifications_unversioned_tx2gene"] = case(
        "accepted", "salmon quantifications with versioned transcript IDs, a tx2gene without versions.",
        ["differ in their version suffixes: matched without versions"],
        files=files_with(tx2gene=tx2gene_text([t.split(".")[0] for t in TRANSCRIPTS])), config=config)
    c["quantifications_offsets_default_engine"] = case(
        "parse", "counts_from_abundance \"no\" (tximport's offsets; a bare YAML no) with PyDESeq2's "
        "own inference engine, which carries no normalisation factors.",
        ["needs diffexp.inference: fast (set: inference: default)", "length_scaled_tpm"],
        files=files_with(),
        config={**config, "quantifications": {**config["quantifications"], "counts_from_abundance": False},
                "diffexp": {"inference": "default", "dispersion_prior": "r"}})
    header = "gene_id\ttranscript_id(s)\tlength\teffective_length\texpected_count\tTPM\tFPKM"
    genes = {sample: "\n".join([header] + [
        f"{g}\t{g}.t1\t1200\t{0 if (g == GENES[4] and i == 2) else 1000 + 7 * i}\t{c}\t1\t1"
        for g, c in zip(GENES, counts[:, i])]) + "\n" for i, sample in enumerate(SAMPLES)}
    c["quantifications_rsem_genes_zero_length"] = case(
        "check_inputs", "RSEM gene-level results with an effective length of 0 (a gene shorter "
        "than the fragments): tximport's offsets need positive lengths, as R's "
        "DESeqDataSetFromTximport.",
        ["1 average transcript length(s) of the files of sample-sheet column 'quant' are zero"],
        files=per_sample(genes, "quant", ".genes.results"),
        config={"counts": None, "quantifications": {"tool": "rsem", "column": "quant"},
                "diffexp": {"inference": "fast", "dispersion_prior": "r"}})
    files = files_with()
    del files["MSC02.quant.sf"]
    c["quantifications_missing_file"] = case(
        "parse", "A sample's quant.sf is missing.",
        ["row 3 (sample 'MSC02'): salmon quantification file 'MSC02.quant.sf' does not exist"],
        files=files, config=config)
    c["quantifications_other_tool"] = case(
        "check_inputs", "kallisto's abundance.tsv files configured as salmon's.",
        ["does not have the columns salmon writes", "It is a kallisto file: set quantifications.tool to 'kallisto'"],
        files=files_with(salmon_texts(counts, kallisto=True)), config=config)
    files = files_with()
    files["MSC09.quant.sf"] = "\n".join(files["MSC09.quant.sf"].splitlines()[:-4]) + "\n"
    c["quantifications_different_transcripts"] = case(
        "check_inputs", "One sample quantified against another transcriptome index (fewer transcripts).",
        ["MSC09.quant.sf' (sample 'MSC09') hold different transcripts", "same transcriptome index"],
        files=files, config=config)
    c["quantifications_missing_from_tx2gene"] = case(
        "check_inputs", "A tx2gene of another release: a fifth of the transcripts are not in it.",
        ["12 of 60 transcripts of the salmon files", "tx2gene.tsv' (20.0%, more than "
         "quantifications.max_missing_share 0.05)"],
        files=files_with(tx2gene=tx2gene_text(
            [t.replace("ENST", "ENSTX") if i < 12 else t for i, t in enumerate(TRANSCRIPTS)])), config=config)
    files = files_with()
    lines = files["MSC04.quant.sf"].splitlines()
    fields = lines[3].split("\t")
    fields[4] = "-2.5"
    lines[3] = "\t".join(fields)
    files["MSC04.quant.sf"] = "\n".join(lines) + "\n"
    c["quantifications_negative_value"] = case(
        "check_inputs", "A negative estimated count in a quant.sf.",
        ["MSC04.quant.sf' (sample 'MSC04'), line 4, transcript 'ENST00000000003.2': NumReads '-2.5' "
         "is not a non-negative number"],
        files=files, config=config)
    return c


def main() -> None:
    BASE.mkdir(exist_ok=True)
    (BASE / "counts.tsv").write_text(counts_text())
    (BASE / "samples.tsv").write_text(sheet_text())
    if CASES.exists():
        shutil.rmtree(CASES)
    for name, (spec, files) in build().items():
        directory = CASES / name
        directory.mkdir(parents=True)
        (directory / "case.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, width=100))
        for filename, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            (directory / filename).write_bytes(data)


if __name__ == "__main__":
    main()
