"""Who is asking (issue 13), and the policy every route declares.

``guard(policy)`` is the dependency every route adds (``who: Principal = guard(STEWARD)``): it
returns the request's principal after checking the policy, and marks the route so the
route-policy test can find a route without one. The principal is put on
``request.state.principal`` by the authentication middleware (session cookie, bearer or CKAN
token, OIDC); a request without credentials is anonymous.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from catalog.policies import Policy
from schemas.principal import Principal

POLICY_ATTRIBUTE = "mulu_policy"


def principal_of(request: Request) -> Principal:
    """The request's principal (anonymous when nothing authenticated it)."""
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else Principal.anonymous()


def guard(policy: Policy) -> Any:
    """A FastAPI dependency: the checked principal; marks the route with ``policy``."""

    def checked(request: Request) -> Principal:
        return policy.check(principal_of(request))

    setattr(checked, POLICY_ATTRIBUTE, policy)
    return Depends(checked)


def route_policy(route: Any) -> Policy | None:
    """The policy a route declared through ``guard`` (None: it declared none)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    stack = list(dependant.dependencies)
    while stack:
        dependency = stack.pop()
        policy = getattr(dependency.call, POLICY_ATTRIBUTE, None)
        if isinstance(policy, Policy):
            return policy
        stack.extend(dependency.dependencies)
    return None
