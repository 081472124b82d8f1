"""Disposal cases, auction rounds, bids, private sale, in-lieu and the proceeds waterfall (later issues)."""
