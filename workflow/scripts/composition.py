"""Cells per sample and population, and the composition test across donors
(single_cell.group_by); writes results/qc/population_cells.tsv, composition.tsv/.png."""

from msc_response.common.scripting import run
from msc_response.common.tables import write_table
from msc_response.design.contrasts import parse_contrasts
from msc_response.design.formula import design_variables
from msc_response.inputs.populations import cell_counts, read_cell_labels
from msc_response.inputs.validation import check_sheet
from msc_response.qc.composition import cells_table, composition_tests, shares
from msc_response.qc.figures import composition_bars


def main(snakemake):
    params = snakemake.params
    sheet = check_sheet(
        snakemake.input.samples, params.design, params.contrasts, tuple(params.categorical)
    ).sheet
    labels = read_cell_labels(snakemake.input.cells, params.sample_column, params.group_by)
    cells = cell_counts(labels, sheet.index)
    write_table(cells_table(cells, params.min_cells), snakemake.output.cells)
    contrasts = parse_contrasts(params.contrasts)
    write_table(composition_tests(cells, sheet, params.design, contrasts), snakemake.output.table)
    # bars grouped by the first two-level contrast's variable, else the design's last
    variable = next(
        (c.variable for c in contrasts if c.kind == "wald"), design_variables(params.design)[-1]
    )
    groups = sheet[variable].astype(str)
    groups.index = groups.index.astype(str)
    composition_bars(shares(cells), groups, variable, snakemake.output.figure)


run(main, snakemake)
