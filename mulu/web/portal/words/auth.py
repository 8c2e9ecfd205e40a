"""Portal words: sign-in and the header (Chinese, English)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "nav_my_applications": ("我的申请", "My applications"),
    "nav_inbox": ("待办", "Inbox"),
    "nav_grants": ("授权", "Grants"),
    "nav_audit": ("审计", "Audit"),
}
