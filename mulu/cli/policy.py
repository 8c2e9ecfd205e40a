"""Every CLI command declares who may run it (issue 13), like every route
(``mulu.web.auth.guard``): ``@requires(policy)`` under ``@app.command``, then ``acting(ctx)``
in the body returns the checked principal. A test enumerates the commands and fails on one
without a policy.

Who acts: ``--token`` (or ``MULU_TOKEN``), ``--user LOGIN`` with its password (``MULU_PASSWORD``
or a prompt), or ``--local-admin`` (explicit). A workspace without users yet runs in local mode
(whoever can write its files), recorded as ``--user``'s name or the OS login.
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
    """The principal running this command, checked against the command's policy."""
    from mulu.cli.context import principal

    policy = command_policy(ctx.command.callback)
    who = principal(ctx)
    if policy is None:  # the policy test fails on such a command; refuse rather than allow
        from schemas.errors import Forbidden

        raise Forbidden(f"command {ctx.command_path!r} declares no policy")
    return policy.check(who)
