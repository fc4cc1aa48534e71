"""The index stage as one object: files, their metadata and their bytes.

:class:`Finder` puts the three jobs of the index stage behind the one object
the lock and vendor stages pass around, over one client and one cache
directory:

- :class:`~bundler.index.file_finder.FileFinder`: which files each project
  offers (the first index that knows a name wins, plus find-links);
- :class:`~bundler.index.metadata_store.MetadataStore`: their core metadata
  (PEP 658, lazy wheel, sdist range reads), memoised and cached;
- :class:`~bundler.index.download.Downloader`: the files themselves,
  verified, through the download cache.

It only delegates; each part can be used on its own (a vendor run that has a
lock needs only the downloader).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bundler.cache import cache_dir
from bundler.index.download import Downloader
from bundler.index.file_finder import FileFinder
from bundler.index.metadata_store import MetadataStore

if TYPE_CHECKING:
    from pathlib import Path

    from bundler.net.client import HttpClient
    from bundler.request.index_config import IndexConfig


class Finder:
    """Project files, core metadata and downloads from the configured indexes.

    Thread-safe: :meth:`prefetch_metadata` and :meth:`download_all` share the
    client's connection pool across worker threads, and every answer is
    memoised for the lifetime of the object.
    """

    def __init__(
        self,
        config: IndexConfig,
        client: HttpClient,
        *,
        cache_root: Path | None = None,
        workers: int = 16,
    ) -> None:
        root = cache_root or cache_dir()
        self.config = config
        self.file_finder = FileFinder(config, client, cache_root=root)
        self.downloader = Downloader(client, cache_root=root)
        self.metadata_store = MetadataStore(
            client, self.downloader, cache_root=root, workers=workers
        )
        # What callers use, bound to the part that does the work: see each
        # part for the contract.
        #: Project → why its pinned indexes could not be reached (when it fell back).
        self.unreachable = self.file_finder.unreachable
        self.files = self.file_finder.files
        self.metadata = self.metadata_store.metadata
        self.prefetch_metadata = self.metadata_store.prefetch_metadata
        self.cached_file = self.downloader.cached_file
        self.download = self.downloader.download
        self.download_all = self.downloader.download_all
