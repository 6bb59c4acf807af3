"""The pass registry: passes and their holders in SQL, and the import of the port
system's CSV export (read, staged, checked whole, then merged per database).

Callers use ``importer`` and ``passes``; reading, staging and merging are inside.
"""

__all__ = ["importer", "passes"]
