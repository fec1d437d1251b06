"""The one exception type for mistakes in the user's inputs.

Scripts catch it and print its message without a traceback; anything else is a bug
and keeps its traceback.
"""


class InputError(Exception):
    """A problem with the user's files or configuration, with a message that says
    which file, which row or column, and what to do."""
