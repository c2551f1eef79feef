"""Types of the compiled row writer (app/api/_rows.c); see app.api.rows."""

def interleave(
    pieces: list[bytes],
    columns: list[bytes | list[bytes] | tuple[bytes, bytes]],
    rows: int,
    sep: bytes,
    before: bytes,
    after: bytes,
) -> bytes: ...
