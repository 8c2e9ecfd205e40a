"""Every CLI command declares who may run it (issue 13), like every route
(``mulu.web.auth.guard``): ``@requires(policy)`` under ``@app.command``, then ``acting(ctx)``
in the body returns the checked principal. A test enumerates the commands and fails on one
without a policy.

Who acts: ``--token`` (or ``MULU_TOKEN``), ``--user LOGIN`` with its password (``MULU_PASSWORD``
or a prompt), or ``--local-admin`` (explicit). A workspace without users yet runs in local mode
(whoever can write its files), recorded as ``--user``'s name or the OS login.

The choices (docs/sharing.md): reads of the catalogue's metadata (catalog show/export/stats,
search, freshness, quality runs) need SIGNED_IN once the workspace has users: the CLI does not
filter to the anonymous portal's open entries, so it asks for an identity instead. Writes need
their role (steward, officer of the entry's organisation, admin); tools that touch no one's data
(mapping drafts, deadline arithmetic, the demo, serve, whoami) are LOCAL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import typer

from catalog.policies import Policy
from schemas.principal import Principal

POLICY_ATTRIBUTE = "mulu_policy"
F = TypeVar("F", bound=Callable[..., Any])


def requires(policy: Policy) -> Callable[[F], F]:
    """Mark a command function with its policy (put it below ``@app.command``)."""

    def mark(function: F) -> F:
        setattr(function, POLICY_ATTRIBUTE, policy)
        return function

    return mark


def command_policy(function: Any) -> Policy | None:
    found = getattr(function, POLICY_ATTRIBUTE, None)
    return found if isinstance(found, Policy) else None


def acting(ctx: typer.Context) -> Principal:
    """The principal running this command, checked against the command's policy.

    Refusals exit 5: no identity where one is needed (the message names ``--user``,
    ``--token`` and ``--local-admin``), or the wrong role."""
    from mulu.cli.context import SIGN_IN_HINT, principal
    from schemas.errors import Forbidden, Unauthenticated

    policy = command_policy(ctx.command.callback)
    if policy is None:  # the policy test fails on such a command; refuse rather than allow
        raise Forbidden(f"命令 {ctx.command_path!r} 未声明权限 (declares no policy)")
    who = principal(ctx, required=policy.signed_in)
    if policy.signed_in and who.is_anonymous:
        raise Unauthenticated(
            f"{ctx.command_path}：工作区已有用户，需要登录身份（{policy.summary}）。{SIGN_IN_HINT}"
        )
    return policy.check(who)
