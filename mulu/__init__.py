"""Mulu (目录): the application shell above the domain packages.

``mulu.cli`` is the ``mulu`` command (typer + rich); ``mulu.web`` is the HTTP server (FastAPI:
the REST API, the CKAN Action API subset, DCAT and the portal). Both are thin: they parse input,
call the domain (``catalog``, ``pipelines``) and present the result. Neither imports the other.
"""
