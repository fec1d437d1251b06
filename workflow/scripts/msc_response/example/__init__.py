"""The example cohort's simulator: the biology it is drawn from (`biology`) and the
generator with its planted truth (`cohort`); resources/example/make_cohort.py writes
the shipped cohort with it.
"""
