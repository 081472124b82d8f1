"""Auctions (disposal) as a Piccolo app."""

from __future__ import annotations

import os

from piccolo.conf.apps import AppConfig

from auctions.tables import TABLES

CURRENT_DIRECTORY = os.path.dirname(os.path.abspath(__file__))

APP_CONFIG = AppConfig(
    app_name="auctions",
    migrations_folder_path=os.path.join(CURRENT_DIRECTORY, "piccolo_migrations"),
    table_classes=TABLES,
    migration_dependencies=["valuation.piccolo_app"],
    commands=[],
)
