"""Portal words: sign-in and the header (Chinese, English)."""

from __future__ import annotations

STRINGS: dict[str, tuple[str, str]] = {
    "login": ("登录", "Sign in"),
    "logout": ("退出", "Sign out"),
    "nav_my_applications": ("我的申请", "My applications"),
    "nav_inbox": ("待办", "Inbox"),
    "nav_grants": ("授权", "Grants"),
    "nav_audit": ("审计", "Audit"),
    "login_title": ("登录政务信息资源目录", "Sign in to the catalogue"),
    "login_name": ("登录名", "Login"),
    "password": ("密码", "Password"),
    "login_submit": ("登录", "Sign in"),
    "login_hint": (
        "请使用本单位分配的账号登录；连续输错多次将暂时锁定。",
        "Use the account your organisation gave you; repeated failures lock it for a while.",
    ),
    "signed_in_as": ("当前登录", "Signed in as"),
    "logged_in": ("已登录", "Signed in"),
    "logged_out": ("已退出登录", "Signed out"),
    "login_failed": ("登录名或密码错误", "Wrong login or password"),
    "review_done": ("审核已记录", "Review recorded"),
}
