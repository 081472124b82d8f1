"""Valuation services: the logic and transactions behind the valuation controllers and pages."""
