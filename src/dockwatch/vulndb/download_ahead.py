"""The next feed's download, run in a thread while this process reads and writes the feed
before it.

A download waits on the network and a feed's parse on the parsing processes: done one after
the other, a `db sync` at 10 MB/s spent 1.9 s of its 4.6 s downloading the four archives of
`bench/feed_sync.py` with the cores idle. The thread is started only once the feed before has
forked its parsing processes, and joined before the next feed forks its own, so that no
process is forked while it runs (`workers._context` would otherwise take the fork server).
"""

from __future__ import annotations

import threading

import httpx

from dockwatch.feeds.feed import Feed, Fetched, Fingerprint, Unchanged


class DownloadAhead:
    """`feed.fetch(prev, http)` in a thread: `result()` gives what it returned or raises what it
    raised, as the call itself would have, once it has ended."""

    def __init__(self, feed: Feed, prev: Fingerprint | None, http: httpx.Client) -> None:
        self.feed = feed
        self._fetched: Fetched | Unchanged | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self._run, args=(prev, http), name=f"download {feed.name}", daemon=True
        )
        self._thread.start()

    def _run(self, prev: Fingerprint | None, http: httpx.Client) -> None:
        try:
            fetched = self.feed.fetch(prev, http)
        except BaseException as exc:  # noqa: BLE001 - raised by `result()` in the caller
            self._error = exc
            return
        with self._lock:
            if not self._abandoned:
                self._fetched = fetched
                return
        if isinstance(fetched, Fetched):  # nobody will read it
            fetched.close()

    def result(self) -> Fetched | Unchanged:
        """What the fetch returned (the caller owns it from now on); raises what it raised."""
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        fetched, self._fetched = self._fetched, None
        assert fetched is not None, "result() is taken once"
        return fetched

    def abandon(self) -> None:
        """The sync stopped before it took the result: the download's files are removed now,
        or by the thread as it ends. A process that exits first (the daemon thread stopped
        with it) leaves the download's temporary folder, as a killed sync does."""
        with self._lock:
            self._abandoned = True
            fetched, self._fetched = self._fetched, None
        if isinstance(fetched, Fetched):
            fetched.close()
