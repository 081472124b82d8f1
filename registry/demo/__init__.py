"""The registry's part of the demo book behind `collateral serve --demo`.

`book` plans the book as plain data (with `plans`, `pledges`, `catalogue`, `places`, `identifiers` and
`evidence`); `loader` loads it through the services. Packages above the registry add their own parts
(valuation.demo); the composition root (app.py) lists the parts in dependency order.
"""
