"""The HTML report (rule report): which files it reads (`files`, also used by the
Snakefile to give the rule its inputs), reading them (`reading`), assembling the
sections (`cohort`, `contrast`, `markers`, `methods`, put together by
`context.build_context`), building blocks for tables and figures (`blocks`), and
rendering the Jinja2 templates in `templates/` (`jinja`, `render`).
"""
