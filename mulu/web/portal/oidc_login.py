"""(issue 13, in progress) single sign-on via OIDC."""

from __future__ import annotations

from fastapi import FastAPI

from mulu.web.deps import Web


def register(app: FastAPI, web: Web) -> None:
    """No routes yet."""
