"""The disposal rules as pure functions of plain data: no Litestar, no Piccolo; time is passed in."""
