"""Errors for bad *user* input (a malformed file, a missing model, a bad flag).

Model output never raises: verifiers return verdicts. User input that cannot be used raises
`UserError` with one line naming the file, line and field, which the CLI prints without a traceback.
"""


class UserError(Exception):
    """A problem with what the user gave us; the message is shown as-is, in one line."""


class RecordError(UserError, ValueError):
    """A record that does not fit the data contract. `where` is 'file:line' (or '' in memory)."""

    def __init__(self, message: str, *, where: str = "", field: str | None = None):
        self.where = where
        self.field = field
        parts = [p for p in (where, f"field '{field}'" if field else "") if p]
        super().__init__(f"{': '.join(parts)}: {message}" if parts else message)


class DiskFull(UserError):
    """A write found no space left (ENOSPC, or a quota: EDQUOT). Not the user's input, but the user's
    to fix, so the CLI shows it as one line like a UserError; the writers that raise it
    (`prm.records`) leave no partial record behind, so the same command resumes once space is freed."""

    def __init__(self, path, err: OSError, done: str = ""):
        self.path = path
        super().__init__(f"{path}: disk full ({err.strerror or err}){done}; free space on that filesystem "
                         f"and rerun the same command: it resumes where this run stopped")
