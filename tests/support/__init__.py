"""Helpers shared across the test suites, one copy each.

- ``ci``: the one rule for "skip locally, fail on CI" (what ``CI`` set means).
- ``data``: the Stanford Cars data in ``../shared``, checked where it is needed.
- ``images``: small images made in memory, and encoding them to bytes.
- ``rows``: random unit vectors and catalog rows for catalog and backend tests.
- ``sqlite``: a catalog's SQLite file opened straight, and closed after.
- ``processes``: free loopback ports; start, wait for and stop a server process.
- ``live_server``: a real uvicorn process serving the app, and the one factory for
  server fixtures on a copy of the test catalog.
"""
