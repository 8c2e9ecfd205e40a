"""``mulu worker``: a Celery worker that runs loads (issue 14): being written.

Registered in ``mulu.cli``.
"""

from __future__ import annotations
