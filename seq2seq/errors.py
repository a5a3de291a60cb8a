"""The one exception type for bad user input.

Every problem a user can fix (a bad config key, a missing file, invalid UTF-8)
raises :class:`UserError`. The CLI prints its message without a traceback and
exits with status 2.
"""


class UserError(Exception):
    """Bad input that the user can fix; the message says what, where and how."""

    exit_code = 2
