"""Provider factories pointing at places where a database file cannot be, as a typo would.

``MissingDirectoryFactory`` opens a file in a directory that does not exist;
``FileAsDirectoryFactory`` one "inside" a regular file.
"""

from __future__ import annotations

import os
import tempfile

from provkit.contract import Provider
from provkit.reference_providers import SqliteProvider

MISSING = os.path.join(tempfile.gettempdir(), "provkit-no-such-directory", "nested", "store.db")


class MissingDirectoryFactory:
    """A file database in a directory that does not exist."""

    async def create_provider(self) -> Provider:
        return await SqliteProvider.open_file(MISSING)
