"""The registry's five book files, in the order the registry writes them."""

from __future__ import annotations

from registry.bulk.book import BookFile
from registry.bulk.collateral import AssetsFile, LiensFile
from registry.bulk.lien_loans import LienLoansFile
from registry.bulk.parties_loans import LoansFile, PartiesFile


def registry_book_files() -> list[BookFile]:
    return [PartiesFile(), LoansFile(), AssetsFile(), LiensFile(), LienLoansFile()]
