"""The portal's words of each sharing page group (issue 13), one module per group so each
group's work edits its own file; ``mulu.web.portal.i18n`` merges them into ``STRINGS``."""

from __future__ import annotations

from mulu.web.portal.words import audit, auth, grants, sharing

GROUPS: tuple[dict[str, tuple[str, str]], ...] = (
    auth.STRINGS,
    sharing.STRINGS,
    grants.STRINGS,
    audit.STRINGS,
)
