"""Real users for the web tests (issue 13): created with ``UserAccounts`` in the test's
workspace, with an API token (for ``Authorization: Bearer``) or a portal session started
directly (``PortalSessions.start``, no password hashing: fast). Nothing is faked: the server
checks these exactly as it checks anyone's."""

from __future__ import annotations

from catalog.directory import Directory
from catalog.sharing.sessions import PortalSessions
from catalog.sharing.users import UserAccounts
from schemas.errors import NotFound
from warehouse.workspace import Workspace

TEST_ORG = "11330100MB00TEST1X"
TEST_ORG_NAME = "测试单位"


def add_user(
    workspace: Workspace,
    login: str,
    *,
    roles: tuple[str, ...] = (),
    org: str | None = None,
    password: str | None = None,
) -> str:
    """Add ``login`` (organisation ``org``: a code or name, default a test unit) with
    ``roles``; return a new API token's secret."""
    directory = Directory.open(workspace, user="test-admin")
    try:
        if org is None:
            try:
                directory.organisation(TEST_ORG)
            except NotFound:
                directory.add_organisations([{"code": TEST_ORG, "name": TEST_ORG_NAME}])
            org_code = TEST_ORG
        else:
            org_code = directory.organisation(org)["code"]
        accounts = UserAccounts(directory.store)
        accounts.add(
            login, org=org_code, name=login, actor="test-admin", roles=roles, password=password
        )
        return accounts.issue_token(login, name="tests", actor="test-admin").secret
    finally:
        directory.close()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def start_session(workspace: Workspace, login: str) -> tuple[str, str]:
    """A portal session for ``login``: (cookie secret, its CSRF token)."""
    directory = Directory.open(workspace, user="test-admin")
    try:
        secret, session = PortalSessions(directory.store).start(
            login, via="password", remote="127.0.0.1"
        )
        return secret, session["csrf_token"]
    finally:
        directory.close()
