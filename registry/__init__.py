"""The registry: parties, loans and their ledgers, assets, liens, documents, users and the audit log."""
