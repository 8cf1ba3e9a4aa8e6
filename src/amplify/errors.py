"""Errors amplify raises for bad input, and the :class:`Problem` records they carry.

A :class:`Problem` names the file, the row as the user sees it (in a CSV file the header is row 1,
so the first data row is row 2, the same number a spreadsheet shows), the column as it is spelled in
the file, what is wrong and how to fix it. Validation collects every problem before raising one
:class:`DataError`, so a user fixes a file in one pass instead of one error at a time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located precisely enough to fix it.

    Parameters
    ----------
    file : str
        The file as the user named it (``"<DataFrame>"`` for an in-memory table).
    row : int or None
        Row as the user sees it: in a CSV file the header is row 1 and the first data row is row 2;
        for a DataFrame it is the index label. None when the problem concerns the whole file or a
        whole column.
    column : str or None
        The column header as spelled in the file, or None when the problem concerns the whole file.
    message : str
        What is wrong.
    fix : str
        What to do about it.
    severity : {"error", "warning"}
        Errors make the input unusable; warnings are reported but the input still loads.
    """

    file: str
    row: int | None
    column: str | None
    message: str
    fix: str = ""
    severity: Severity = "error"

    def location(self) -> str:
        """Where the problem is, e.g. ``"row 5, column 'Amount spent (USD)'"``."""
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts) if parts else "whole file"

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict of all fields."""
        return asdict(self)

    def __str__(self) -> str:
        text = f"{self.file}: {self.location()}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


class AmplifyError(Exception):
    """Base class of the errors amplify raises on purpose."""


class ConstraintError(AmplifyError, ValueError):
    """Constraints that cannot all hold; the message names the platform, the numbers and the fix."""


class DataError(AmplifyError, ValueError):
    """Input data that cannot be used; carries every problem found, not just the first.

    Parameters
    ----------
    problems : iterable of Problem
        The errors (severity ``"error"``) that make the input unusable.
    warnings : iterable of Problem, optional
        Non-fatal findings gathered on the way, reported alongside.
    """

    def __init__(self, problems: Iterable[Problem], warnings: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.warnings: tuple[Problem, ...] = tuple(warnings)
        super().__init__(self.report())

    def report(self) -> str:
        """A readable multi-line report: one line per problem, grouped by file."""
        if not self.problems:
            return "invalid input (no details)"
        lines: list[str] = []
        files = list(dict.fromkeys(p.file for p in self.problems))
        for file in files:
            mine = [p for p in self.problems if p.file == file]
            noun = "problem" if len(mine) == 1 else "problems"
            lines.append(f"{len(mine)} {noun} in {file}:")
            for p in mine:
                line = f"  - {p.location()}: {p.message}"
                if p.fix:
                    line += f" Fix: {p.fix}"
                lines.append(line)
        if self.warnings:
            noun = "warning" if len(self.warnings) == 1 else "warnings"
            lines.append(f"(and {len(self.warnings)} {noun})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()
