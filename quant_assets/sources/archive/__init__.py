"""The exchange's public data archive (``data.binance.vision``) as a market source.

:class:`ArchiveMarket` reads the archive's checksummed ZIP files from a local folder
(``QUANT_ARCHIVE_DIR``); :func:`download_archive` (``quant-assets archive-download``)
fetches them.
"""

from quant_assets.sources.archive.download import (
    DEFAULT_BASE_URL,
    ArchiveDownloadError,
    DownloadReport,
    download_archive,
)
from quant_assets.sources.archive.source import ARCHIVE_DIR_ENV, ArchiveMarket

__all__ = [
    "ARCHIVE_DIR_ENV",
    "DEFAULT_BASE_URL",
    "ArchiveDownloadError",
    "ArchiveMarket",
    "DownloadReport",
    "download_archive",
]
