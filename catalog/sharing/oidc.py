"""Single sign-on through an OpenID Connect provider (统一身份认证, issue 13), optional.

The workspace's ``config/oidc.yaml`` (``Workspace.oidc_file``) turns it on; without the file
the portal signs in by password only and the SSO routes answer 404::

    issuer: https://sso.example.gov.cn/realms/district   # the provider (its discovery document
                                                         # is <issuer>/.well-known/openid-configuration)
    client_id: mulu
    client_secret_env: MULU_OIDC_CLIENT_SECRET   # the NAME of the environment variable holding
                                                 # the secret; the secret itself never goes here
    scopes: [openid, profile, email]             # default
    login_claim: preferred_username              # the claim naming the Mulu login (or email)
    users:                                       # optional: claim value -> Mulu login
      zhang.san@example.gov.cn: zhangsan
    match: claim                                 # default; ``sub``: map the provider's stable
                                                 # subject through ``users`` only (sub -> login)
    allowed_domains: [example.gov.cn]            # optional: the e-mail's domain must be one
    redirect_uri: https://mulu.example.gov.cn/login/oidc/callback   # optional (default: the
                                                                    # request's own URL)
    button: 统一身份认证登录                        # optional: the login page's button text

The flow is the authorization code flow with PKCE (S256), a ``state`` and a ``nonce``
(authlib's OAuth2 client). The ID token is checked here: its signature against the provider's
JWKS (asymmetric algorithms only, never ``none`` or a shared secret), ``iss``, ``aud``,
``exp``/``iat``/``nbf`` and the ``nonce`` of this login (authlib's ``CodeIDToken`` claims over
joserfc). Whenever an e-mail address decides who signs in (``login_claim: email``, an address as
the claim's value or a ``users`` key, or ``allowed_domains``), ``email_verified`` must be exactly
true (JSON true or the string "true"): missing or "false" is refused. With ``match: sub`` the
login is ``users[sub]`` and nothing else (an unmapped subject is refused). Its login claim must
name an EXISTING active Mulu user: nobody is created by signing
in (an unknown one is refused, 403, and asked to see the data office).

No web framework here: ``mulu.web.portal.oidc_login`` turns this into routes and cookies.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import secrets
import threading
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.errors import Forbidden, InvalidInput, NotFound, Unauthenticated, Unavailable
from schemas.principal import Principal
from warehouse.store import Store

DEFAULT_SCOPES = ("openid", "profile", "email")
DEFAULT_LOGIN_CLAIM = "preferred_username"
# Signature algorithms an ID token may use: asymmetric ones, checked with the provider's JWKS.
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
LEEWAY_SECONDS = 60  # clock difference allowed between Mulu and the provider
PENDING_SECONDS = 600  # a login begun must come back within 10 minutes
MAX_PENDING = 10_000  # logins begun and not finished kept at once (the oldest go first)
HTTP_TIMEOUT = 10.0
METADATA_SECONDS = 3600  # discovery document and JWKS are read again after an hour
_KEYS = {
    "issuer",
    "client_id",
    "client_secret_env",
    "scopes",
    "login_claim",
    "users",
    "allowed_domains",
    "redirect_uri",
    "button",
    "match",
}
MATCHES = ("claim", "sub")


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> str:
    """``url`` if it is https (or http on this machine's loopback, for tests)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and _is_loopback(url):
        return url
    raise InvalidInput(f"{what} 必须是 https 地址 (must be https): {url!r}")


@dataclass(frozen=True)
class OidcConfig:
    """The workspace's single sign-on settings (``config/oidc.yaml``)."""

    issuer: str
    client_id: str
    client_secret_env: str | None = None
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    login_claim: str = DEFAULT_LOGIN_CLAIM
    users: Mapping[str, str] = field(default_factory=dict)
    allowed_domains: tuple[str, ...] = ()
    redirect_uri: str | None = None
    button: str = "统一身份认证登录"
    match: str = "claim"

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, source: str = "oidc.yaml") -> OidcConfig:
        def bad(message: str) -> InvalidInput:
            return InvalidInput(f"{source}: {message}")

        if "client_secret" in raw:
            raise bad(
                "不要把客户端密钥写在文件里，请用 client_secret_env 指明存放密钥的环境变量 "
                "(never put the secret in the file: name its environment variable)"
            )
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise bad(f"未知的设置项 unknown keys {unknown}: expected {sorted(_KEYS)}")
        issuer = str(raw.get("issuer") or "").strip().rstrip("/")
        client_id = str(raw.get("client_id") or "").strip()
        if not issuer or not client_id:
            raise bad("需要 issuer 和 client_id (issuer and client_id are required)")
        check_url(issuer, f"{source}: issuer")
        scopes = raw.get("scopes") or list(DEFAULT_SCOPES)
        if isinstance(scopes, str):
            scopes = scopes.split()
        scopes = [str(s) for s in scopes]
        if "openid" not in scopes:
            scopes.insert(0, "openid")
        users = raw.get("users") or {}
        if not isinstance(users, Mapping):
            raise bad("users 应为“声明值: 登录名”的映射 (users: a mapping claim value -> login)")
        domains = raw.get("allowed_domains") or []
        if isinstance(domains, str):
            domains = [domains]
        redirect_uri = raw.get("redirect_uri")
        if redirect_uri:
            check_url(str(redirect_uri), f"{source}: redirect_uri")
        secret_env = raw.get("client_secret_env")
        match = str(raw.get("match") or "claim").strip().lower()
        if match not in MATCHES:
            raise bad(f"match 应为 claim 或 sub，而不是 {match!r} (match: claim | sub)")
        if match == "sub" and not users:
            raise bad("match: sub 需要 users 映射“sub: 登录名” (match: sub needs users)")
        return cls(
            issuer=issuer,
            client_id=client_id,
            client_secret_env=str(secret_env).strip() if secret_env else None,
            scopes=tuple(dict.fromkeys(scopes)),
            login_claim=str(raw.get("login_claim") or DEFAULT_LOGIN_CLAIM),
            users={str(k).strip().lower(): str(v).strip() for k, v in users.items()},
            allowed_domains=tuple(str(d).strip().lower().lstrip("@") for d in domains),
            redirect_uri=str(redirect_uri) if redirect_uri else None,
            button=str(raw.get("button") or cls.button),
            match=match,
        )

    def client_secret(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The client secret from the environment variable the file names (None: a public
        client, PKCE only). Unavailable when the variable is named but not set."""
        if not self.client_secret_env:
            return None
        env = os.environ if environ is None else environ
        value = env.get(self.client_secret_env)
        if not value:
            raise Unavailable(
                f"统一身份认证暂不可用：环境变量 {self.client_secret_env} 未设置 "
                f"(the client secret's environment variable is not set)"
            )
        return value

    def login_for(self, claims: Mapping[str, Any]) -> str:
        """The Mulu login the ID token's claims name (Forbidden when they name none, an
        unverified e-mail decides it, or an e-mail outside ``allowed_domains``)."""
        if self.match == "sub":
            sub = claims.get("sub")
            login = self.users.get(sub.strip().lower()) if isinstance(sub, str) else None
            if login is None:
                raise Forbidden(
                    f"统一身份认证账号（sub {sub}）未在本平台登记，请联系数据管理员 "
                    "(this subject is not mapped to a Mulu user)"
                )
            if self.allowed_domains:
                self._check_email(claims, str(claims.get("email") or ""), str(sub))
            return login
        value = claims.get(self.login_claim)
        if not isinstance(value, str) or not value.strip():
            raise Forbidden(
                f"统一身份认证未提供 {self.login_claim}，无法确定本平台用户 "
                f"(the provider sent no {self.login_claim} claim)"
            )
        value = value.strip()
        by_email = (
            self.login_claim == "email"
            or "@" in value
            or bool(self.allowed_domains)
            or any("@" in key for key in self.users)
        )
        if by_email:
            email = value if "@" in value else claims.get("email")
            self._check_email(claims, email if isinstance(email, str) else "", value)
        return self.users.get(value.lower(), value)

    def _check_email(self, claims: Mapping[str, Any], email: str, who: str) -> None:
        """The e-mail must be verified (``email_verified`` exactly true) and, with
        ``allowed_domains``, of one of them."""
        if not email_verified(claims):
            raise Forbidden(
                f"统一身份认证账号 {who} 的电子邮箱未经验证（email_verified 不为 true），"
                "不能据此登录 (the e-mail is not verified)"
            )
        domain = email.rpartition("@")[2].lower()
        if self.allowed_domains and domain not in self.allowed_domains:
            raise Forbidden(
                f"统一身份认证账号 {who} 不属于允许的域名（{'、'.join(self.allowed_domains)}）"
                f" (e-mail domain not allowed)"
            )


def email_verified(claims: Mapping[str, Any]) -> bool:
    """``email_verified`` is exactly true: JSON true or the string "true" (any case)."""
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def load_config(path: Path) -> OidcConfig | None:
    """The settings in ``path``; None when there is no such file (single sign-on off)."""
    if not path.is_file():
        return None
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: 不是有效的 YAML (not valid YAML): {exc}") from None
    if not isinstance(raw, Mapping):
        raise InvalidInput(f"{path}: 应为设置项的映射 (expected a mapping of settings)")
    return OidcConfig.from_mapping(raw, source=str(path))


def sign_on_button(path: Path) -> str | None:
    """The login page's single sign-on button text, or None when single sign-on is off (no
    file) or its file is broken (the SSO route then names the problem)."""
    try:
        config = load_config(path)
    except InvalidInput:
        return None
    return None if config is None else config.button


# --- the ID token ------------------------------------------------------------------------
def validate_id_token(
    id_token: str,
    *,
    jwks: Mapping[str, Any],
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None = None,
    algorithms: tuple[str, ...] = ASYMMETRIC,
    now: int | None = None,
    leeway: int = LEEWAY_SECONDS,
) -> dict[str, Any]:
    """The ID token's claims, after checking its signature (``jwks``, ``algorithms`` only),
    ``iss``, ``aud`` (and ``azp``), ``exp``/``nbf``/``iat``, ``nonce`` and ``at_hash``.
    Unauthenticated, naming what failed, otherwise."""
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet
    from joserfc.jws import JWSRegistry

    allowed = [a for a in algorithms if a in ASYMMETRIC]
    try:
        keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]
        token = jwt.decode(
            id_token, keys, algorithms=allowed, registry=JWSRegistry(algorithms=allowed)
        )
        claims = CodeIDToken(
            token.claims,
            token.header,
            {
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": client_id},
            },
            {"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(now=now, leeway=leeway)
    except JoseError as exc:
        raise Unauthenticated(
            f"统一身份认证的身份令牌无效 (ID token refused): {exc.error}: "
            f"{exc.description or type(exc).__name__}"
        ) from None
    except ValueError as exc:  # a token that is not a JWT at all, a bad key set
        raise Unauthenticated(f"统一身份认证的身份令牌无效 (ID token refused): {exc}") from None
    return dict(claims)


def principal_for(store: Store, config: OidcConfig, claims: Mapping[str, Any]) -> Principal:
    """The existing, active Mulu user the claims name, as a principal (via ``oidc``).
    Nobody is created: an unknown or disabled user is Forbidden (403)."""
    from catalog.sharing.users import UserAccounts

    login = config.login_for(claims)
    try:
        return UserAccounts(store).principal(login, via="oidc")
    except NotFound:
        raise Forbidden(
            f"统一身份认证账号 {claims.get('sub' if config.match == 'sub' else config.login_claim)} "
            "在本平台没有对应的用户，"
            f"请联系数据管理员开通 (no Mulu user {login!r}: ask the data office to add one)"
        ) from None
    except Unauthenticated:
        raise Forbidden(f"用户 {login!r} 已停用，请联系数据管理员 (user disabled)") from None


# --- logins begun, waiting for the provider to send the browser back -----------------------
@dataclass(frozen=True)
class Pending:
    state: str
    nonce: str
    code_verifier: str
    binding: str  # sha256 of the browser's binding cookie: the callback must come from it
    next_url: str
    redirect_uri: str
    started: float  # Unix time (seconds)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class PendingLogins:
    """Logins begun, by ``state``: kept server-side in the store (never in the browser; any
    server process may take the callback: ``mulu serve --workers N``, several machines), each
    usable once, for ``ttl`` seconds. A login must come back to the browser that began it (the
    binding cookie's hash), so a callback URL sent to someone else signs nobody in. At most
    ``most`` are kept: beginning another drops the oldest."""

    def __init__(
        self, store: Store, *, ttl: float = PENDING_SECONDS, most: int = MAX_PENDING
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.most = most

    def begin(self, binding: str, *, next_url: str, redirect_uri: str) -> Pending:
        # Wall clock, to the millisecond kept: the callback may come back to another machine.
        now = _ms(time.time()) / 1000
        pending = Pending(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
            binding=_hash(binding),
            next_url=next_url,
            redirect_uri=redirect_uri,
            started=now,
        )
        self.store.web_state.add_pending(
            {
                "state": pending.state,
                "nonce": pending.nonce,
                "code_verifier": pending.code_verifier,
                "binding_hash": pending.binding,
                "next_url": pending.next_url,
                "redirect_uri": pending.redirect_uri,
                "started_ms": _ms(now),
            },
            expired_before=_ms(now - self.ttl),
            most=self.most,
        )
        return pending

    def take(self, state: str, binding: str | None) -> Pending:
        """The login ``state`` names, removed (used once); Unauthenticated when unknown,
        expired or come back to another browser."""
        row = self.store.web_state.take_pending(state) if state else None
        pending = None
        if row is not None:
            pending = Pending(
                state=row["state"],
                nonce=row["nonce"],
                code_verifier=row["code_verifier"],
                binding=row["binding_hash"],
                next_url=row["next_url"],
                redirect_uri=row["redirect_uri"],
                started=int(row["started_ms"]) / 1000,
            )
        if pending is None or time.time() - pending.started > self.ttl:
            raise Unauthenticated(
                "登录请求无效或已过期，请重新登录 (unknown or expired sign-on; sign in again)"
            )
        if not binding or not secrets.compare_digest(pending.binding, _hash(binding)):
            raise Unauthenticated(
                "登录请求不是从本浏览器发起的，请重新登录 (sign-on began in another browser)"
            )
        return pending

    def count(self) -> int:
        """Logins begun and not yet taken (expired ones included until the next begins)."""
        return self.store.web_state.count_pending()


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


# --- the provider ----------------------------------------------------------------------------
class OidcClient:
    """Talks to the provider: its discovery document and JWKS (kept ``METADATA_SECONDS``,
    the JWKS read again at once for an unknown key id), the authorization URL and the code
    exchange (authlib's OAuth2 client over requests)."""

    def __init__(self, config: OidcConfig, *, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = environ
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._jwks: tuple[float, dict[str, Any]] | None = None

    def _get(self, url: str) -> dict[str, Any]:
        import requests

        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            found = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise Unavailable(
                f"统一身份认证服务暂不可用 (the sign-on provider did not answer): {url}: {exc}"
            ) from None
        if not isinstance(found, dict):
            raise Unavailable(f"统一身份认证服务的应答有误 (not a JSON object): {url}")
        return found

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata[0] < METADATA_SECONDS:
                return self._metadata[1]
        found = self._get(self.config.issuer + "/.well-known/openid-configuration")
        if str(found.get("issuer", "")).rstrip("/") != self.config.issuer:
            raise Unavailable(
                f"统一身份认证服务的 issuer 与配置不符 (discovery issuer "
                f"{found.get('issuer')!r} is not {self.config.issuer!r})"
            )
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not found.get(key):
                raise Unavailable(f"统一身份认证服务缺少 {key} (discovery document lacks it)")
            check_url(str(found[key]), key)
        with self._lock:
            self._metadata = (time.monotonic(), found)
        return found

    def jwks(self, *, force: bool = False) -> dict[str, Any]:
        with self._lock:
            if not force and self._jwks and time.monotonic() - self._jwks[0] < METADATA_SECONDS:
                return self._jwks[1]
        found = self._get(self.metadata()["jwks_uri"])
        with self._lock:
            self._jwks = (time.monotonic(), found)
        return found

    def _session(self, redirect_uri: str) -> Any:
        from authlib.integrations.requests_client import OAuth2Session

        secret = self.config.client_secret(self.environ)
        return OAuth2Session(
            client_id=self.config.client_id,
            client_secret=secret,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            default_timeout=HTTP_TIMEOUT,
        )

    def authorization_url(self, pending: Pending) -> str:
        with self._session(pending.redirect_uri) as session:
            url, _ = session.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=pending.state,
                code_verifier=pending.code_verifier,
                nonce=pending.nonce,
            )
        return str(url)

    def finish(self, pending: Pending, code: str) -> dict[str, Any]:
        """Exchange ``code`` for tokens and return the checked ID token's claims."""
        from authlib.integrations.base_client import OAuthError
        from authlib.oauth2.rfc6749.errors import OAuth2Error
        from requests import RequestException

        metadata = self.metadata()
        try:
            with self._session(pending.redirect_uri) as session:
                token = session.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                )
        except (OAuthError, OAuth2Error) as exc:
            raise Unauthenticated(
                f"统一身份认证拒绝了授权码 (the provider refused the code): {exc}"
            ) from None
        except RequestException as exc:
            raise Unavailable(f"统一身份认证服务暂不可用 (token endpoint): {exc}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise Unauthenticated("统一身份认证未返回身份令牌 (no id_token in the answer)")
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = tuple(a for a in offered if a in ASYMMETRIC) or ("RS256",)
        check = {
            "issuer": self.config.issuer,
            "client_id": self.config.client_id,
            "nonce": pending.nonce,
            "access_token": token.get("access_token"),
            "algorithms": algorithms,
        }
        try:
            return validate_id_token(id_token, jwks=self.jwks(), **check)
        except Unauthenticated:
            if not _unknown_key(id_token, self.jwks()):
                raise
        # A key the provider rotated in since the JWKS was read: read it again, once.
        return validate_id_token(id_token, jwks=self.jwks(force=True), **check)


def _unknown_key(id_token: str, jwks: Mapping[str, Any]) -> bool:
    """Whether the token names a key id the key set does not have."""
    import json

    try:
        header = json.loads(base64.urlsafe_b64decode(id_token.split(".")[0] + "=="))
    except (ValueError, IndexError):
        return False
    kid = header.get("kid") if isinstance(header, dict) else None
    return bool(kid) and kid not in {k.get("kid") for k in jwks.get("keys", [])}
