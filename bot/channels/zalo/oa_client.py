"""Zalo Official Account API v3 client and its access-token keeper.

Sending: ``POST {oa_base}/v3.0/oa/message/cs`` with the ``access_token``
header (customer-service messages: text, an uploaded image, an uploaded file).
Uploads: ``{oa_base}/v2.0/oa/upload/image`` and ``/v2.0/oa/upload/file``.
The recipient is ``{"message_id": ...}`` when answering a user's message —
Zalo counts those as free *reply* messages (up to 8 within 48 h of the user's
message) — and ``{"user_id": ...}`` otherwise (a *proactive* message, which
Zalo limits to verified OAs and a monthly quota).

Tokens: an OA access token lives about 25 hours; a new one comes from
``POST {oauth_base}/v4/oa/access_token`` (form ``refresh_token``, ``app_id``,
``grant_type=refresh_token``; header ``secret_key`` = the app secret), which
also returns a new refresh token and **invalidates the one sent**. Losing the
new pair therefore locks the bot out until an operator re-authorises the app.
:class:`OATokenManager` is built so that does not happen silently:

* the pair lives in ``<data dir>/zalo_oa_tokens.json`` (mode 0600), written
  atomically (temp file, fsync, rename, fsync of the folder), and the new pair
  is saved *before* it is used for anything;
* refreshing is proactive: when less than ``refresh_margin_s`` (6 h) of the
  access token's life is left, so if a refresh fails — network error, crash
  between Zalo's answer and the save, a refresh token Zalo no longer accepts —
  the current access token still works for hours while it retries with
  back-off and tells the operator, in the log, how long is left and what to do;
* the previous pair is kept; if Zalo rejects the current access token, a
  previous one that has not expired is tried;
* before a refresh the file is re-read (another process may have refreshed)
  and a ``refresh_started_at`` marker is saved, so a restart after a crash
  mid-refresh logs exactly what happened;
* if saving fails (disk full), the new pair is kept in memory and saving is
  retried on every use; the log says so loudly. A refresh that is merely due
  is postponed while the token file cannot be written (spending the single-use
  refresh token then would put the only valid pair in memory alone); it still
  happens when the access token is about to expire or Zalo rejects it;
* tokens are seeded from ``ZALO_OA_ACCESS_TOKEN`` / ``ZALO_OA_REFRESH_TOKEN``
  when no file exists, and a *new* refresh token put in ``.env`` later (the
  recovery path after a lock-out) replaces the stored pair on start.

One process per data directory should serve an OA (refreshes are serialised
in-process by a lock; re-reading the file covers a second process only
loosely).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=10.0)
DEFAULT_LIFETIME_S = 90_000.0  # what Zalo documents for OA access tokens (25 h)
REFRESH_MARGIN_S = 6 * 3600.0
URGENT_S = 3600.0  # below this much access-token life, refresh even if saving fails
RETRY_MIN_S = 60.0
RETRY_MAX_S = 1800.0
TOKEN_ERRORS = {-124, -216, -14005}  # access token expired / invalid
RECOVERY_HINT = (
    "To recover: create a new access/refresh token pair for the OA (Zalo for Developers -> "
    "your app -> Official Account -> API Explorer, or the OA authorisation flow), put them in "
    "ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN in .env and restart `hocvuso serve zalo-oa`; "
    "the new pair replaces the stored one."
)


class ZaloOAError(Exception):
    """The OA API answered with an error code."""

    def __init__(self, what: str, code: int | None, message: str) -> None:
        super().__init__(f"Zalo OA {what} failed: {code} {message}")
        self.what = what
        self.code = code
        self.message = message

    @property
    def token_problem(self) -> bool:
        return self.code in TOKEN_ERRORS


class RefreshFailed(Exception):
    """A refresh did not produce a new pair. ``definite``: Zalo refused the refresh token."""

    def __init__(self, message: str, *, definite: bool) -> None:
        super().__init__(message)
        self.definite = definite


def fingerprint(secret: str) -> str:
    """A short, non-reversible tag of a token (to compare without storing it twice)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "unknown"
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M %Z")


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_at: float | None = None  # epoch seconds; None: unknown (seeded from .env)
    obtained_at: float | None = None

    def remaining(self, now: float) -> float | None:
        return None if self.expires_at is None else self.expires_at - now


@dataclass
class TokenState:
    current: TokenPair
    previous: TokenPair | None = None
    seed: str | None = None  # fingerprint of the .env refresh token last adopted
    refresh_started_at: float | None = None
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "current": asdict(self.current),
            "previous": asdict(self.previous) if self.previous else None,
            "seed": self.seed,
            "refresh_started_at": self.refresh_started_at,
            "last_error": self.last_error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenState:
        def pair(value: Any) -> TokenPair | None:
            if not isinstance(value, dict):
                return None
            if not value.get("access_token") or not value.get("refresh_token"):
                return None
            return TokenPair(
                access_token=str(value["access_token"]),
                refresh_token=str(value["refresh_token"]),
                expires_at=_float(value.get("expires_at")),
                obtained_at=_float(value.get("obtained_at")),
            )

        current = pair(data.get("current"))
        if current is None:
            raise ValueError("token file has no current pair")
        return cls(
            current=current,
            previous=pair(data.get("previous")),
            seed=data.get("seed") if isinstance(data.get("seed"), str) else None,
            refresh_started_at=_float(data.get("refresh_started_at")),
            last_error=data.get("last_error") if isinstance(data.get("last_error"), str) else None,
        )


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class TokenStore:
    """The token file: atomic replace, fsync'd, readable only by the owner."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> TokenState | None:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return TokenState.from_json(json.loads(raw))

    def save(self, state: TokenState) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{self.path.name}.{os.getpid()}.tmp"
        data = json.dumps(state.to_json(), indent=2).encode("utf-8")
        # A temporary file left by a crash keeps its old mode through O_CREAT:
        # start from a fresh one, and set the mode on the descriptor anyway.
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsync'd
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


@dataclass
class _Health:
    failures: int = 0
    next_try: float = 0.0
    dirty: bool = False  # in-memory state not yet saved
    interrupted: bool = False


class OATokenManager:
    """Hands out a valid OA access token, refreshing and persisting as needed."""

    def __init__(
        self,
        store: TokenStore,
        *,
        app_id: str,
        app_secret: str,
        oauth_base_url: str = "https://oauth.zaloapp.com",
        http: httpx.AsyncClient,
        seed_access_token: str | None = None,
        seed_refresh_token: str | None = None,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.app_id = app_id
        self.app_secret = app_secret
        self.oauth_base_url = oauth_base_url.rstrip("/")
        self.http = http
        self.refresh_margin_s = refresh_margin_s
        self.clock = clock
        self._lock = asyncio.Lock()
        self._health = _Health()
        self.state = self._initial_state(seed_access_token, seed_refresh_token)

    # -- start-up ---------------------------------------------------------------------
    def _initial_state(
        self, seed_access: str | None, seed_refresh: str | None
    ) -> TokenState | None:
        try:
            stored = self.store.load()
        except (ValueError, OSError) as exc:
            log.error(
                "Zalo OA token file %s is unreadable (%s); falling back to .env tokens. %s",
                self.store.path,
                exc,
                RECOVERY_HINT,
            )
            stored = None
        seed_tag = fingerprint(seed_refresh) if seed_refresh else None
        if stored is not None:
            known = {stored.current.refresh_token}
            if stored.previous:
                known.add(stored.previous.refresh_token)
            if seed_refresh and seed_tag != stored.seed and seed_refresh not in known:
                log.warning(
                    "ZALO_OA_REFRESH_TOKEN in the environment is new: it replaces the stored "
                    "Zalo OA tokens in %s.",
                    self.store.path,
                )
                state = TokenState(
                    current=TokenPair(seed_access or "", seed_refresh),
                    previous=stored.current,
                    seed=seed_tag,
                )
                self._persist(state)
                return state
            if stored.refresh_started_at is not None:
                self._health.interrupted = True
                log.warning(
                    "A Zalo OA token refresh started at %s did not finish (the process stopped "
                    "before saving its result). Zalo may already have invalidated the stored "
                    "refresh token; the bot keeps using the stored access token (valid until %s) "
                    "and tries the refresh again now.",
                    _when(stored.refresh_started_at),
                    _when(stored.current.expires_at),
                )
            elif stored.last_error:
                log.warning(
                    "The last Zalo OA token refresh failed (%s); it is tried again when due. "
                    "Access token valid until %s.",
                    stored.last_error,
                    _when(stored.current.expires_at),
                )
            return stored
        if not seed_refresh:
            if seed_access:
                log.warning(
                    "Only ZALO_OA_ACCESS_TOKEN is set: it cannot be renewed, so the OA stops "
                    "working when it expires (about 25 h after it was issued). Set "
                    "ZALO_OA_REFRESH_TOKEN too."
                )
                return TokenState(current=TokenPair(seed_access, ""), seed=None)
            log.error("No Zalo OA tokens: set ZALO_OA_ACCESS_TOKEN and ZALO_OA_REFRESH_TOKEN.")
            return None
        state = TokenState(current=TokenPair(seed_access or "", seed_refresh), seed=seed_tag)
        self._persist(state)
        return state

    # -- public -------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        return self.state is not None

    def needs_refresh(self) -> bool:
        state = self.state
        if state is None or not state.current.refresh_token:
            return False
        if not state.current.access_token or self._health.interrupted:
            return True
        remaining = state.current.remaining(self.clock())
        return remaining is None or remaining < self.refresh_margin_s

    async def access_token(self) -> str:
        """A token to call the OA API with (refreshing first when due and possible)."""
        await self.maintain()
        if self.state is None or not self.state.current.access_token:
            raise ZaloOAError("access token", None, "no usable Zalo OA access token")
        return self.state.current.access_token

    async def maintain(self) -> None:
        """One tick of the background keeper: refresh if due, save if dirty."""
        self._flush()
        if self.state and self.needs_refresh() and self.clock() >= self._health.next_try:
            await self.refresh(seen=self.state.current.refresh_token)

    async def token_rejected(self, token: str) -> str | None:
        """Zalo said ``token`` is invalid/expired: another token to try, or None."""
        state = self.state
        if state is None:
            return None
        if token != state.current.access_token:
            return state.current.access_token or None  # someone refreshed meanwhile
        may_refresh = self.clock() >= self._health.next_try  # not while backing off
        if (
            state.current.refresh_token
            and may_refresh
            and await self.refresh(seen=state.current.refresh_token, force=True)
        ):
            return self.state.current.access_token if self.state else None
        prev = state.previous
        now = self.clock()
        if prev and prev.access_token and prev.access_token != token:
            remaining = prev.remaining(now)
            if remaining is None or remaining > 0:
                log.warning("Zalo rejected the current OA access token; trying the previous one.")
                return prev.access_token
        return None

    async def refresh(self, *, seen: str | None = None, force: bool = False) -> bool:
        """Refresh the pair once; True when a new pair is in use (and saved if possible).

        ``seen`` is the refresh token the caller decided to replace: if another
        task refreshed while this one waited for the lock, nothing more is done.
        Unless ``force`` (Zalo rejected the access token) or the access token
        is about to expire, nothing is spent while the token file is unwritable.
        """
        async with self._lock:
            state = self.state
            if state is None or not state.current.refresh_token:
                return False
            if seen is not None and state.current.refresh_token != seen:
                return True
            used = state.current.refresh_token
            if self._adopt_newer_file(used):
                return True
            now = self.clock()
            marked = replace(state, refresh_started_at=now)
            self._persist(marked)
            remaining = state.current.remaining(now)
            urgent = (
                force or not state.current.access_token or remaining is None or remaining < URGENT_S
            )
            if self._health.dirty and not urgent:
                self._health.failures += 1
                self._health.next_try = now + RETRY_MIN_S
                log.error(
                    "Zalo OA token refresh postponed: %s cannot be written, and a new pair "
                    "that exists only in memory would be lost on restart. The current access "
                    "token stays valid until %s; fix the disk (space, permissions) now.",
                    self.store.path,
                    _when(state.current.expires_at),
                )
                return False
            self.state = marked
            try:
                pair = await self._request_pair(used)
            except RefreshFailed as exc:
                self._refresh_failed(exc)
                return False
            new_state = TokenState(
                current=pair, previous=state.current, seed=state.seed, refresh_started_at=None
            )
            self.state = new_state  # before saving: it is the only valid pair now
            self._persist(new_state)
            self._health.failures = 0
            self._health.next_try = 0.0
            self._health.interrupted = False
            log.info("Zalo OA access token refreshed; valid until %s.", _when(pair.expires_at))
            return True

    # -- internals --------------------------------------------------------------------
    async def _request_pair(self, refresh_token: str) -> TokenPair:
        url = f"{self.oauth_base_url}/v4/oa/access_token"
        try:
            response = await self.http.post(
                url,
                data={
                    "refresh_token": refresh_token,
                    "app_id": self.app_id,
                    "grant_type": "refresh_token",
                },
                headers={"secret_key": self.app_secret},
                timeout=DEFAULT_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise RefreshFailed(
                f"no answer from Zalo OAuth ({type(exc).__name__})", definite=False
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise RefreshFailed(
                f"Zalo OAuth answered HTTP {response.status_code} without JSON",
                definite=False,
            )
        access, refresh = data.get("access_token"), data.get("refresh_token")
        if isinstance(access, str) and access and isinstance(refresh, str) and refresh:
            lifetime = _float(data.get("expires_in")) or DEFAULT_LIFETIME_S
            now = self.clock()
            return TokenPair(access, refresh, expires_at=now + lifetime, obtained_at=now)
        code = data.get("error")
        message = data.get("error_description") or data.get("message") or data.get("error_name")
        definite = response.status_code < 500 and code is not None
        raise RefreshFailed(f"Zalo OAuth error {code}: {message}", definite=definite)

    def _refresh_failed(self, exc: RefreshFailed) -> None:
        health = self._health
        health.failures += 1
        delay = min(RETRY_MAX_S, RETRY_MIN_S * 2 ** (health.failures - 1))
        health.next_try = self.clock() + delay
        state = self.state
        assert state is not None
        remaining = state.current.remaining(self.clock())
        left = "unknown" if remaining is None else f"{max(0.0, remaining) / 3600:.1f} h"
        self.state = replace(state, refresh_started_at=None, last_error=str(exc))
        self._persist(self.state)
        if exc.definite:
            log.error(
                "Zalo OA token refresh refused: %s. The stored refresh token no longer works "
                "(it is single-use; an earlier refresh may have been interrupted). The bot keeps "
                "using the current access token, valid until %s (%s left), and retries in %.0f "
                "min. %s",
                exc,
                _when(state.current.expires_at),
                left,
                delay / 60,
                RECOVERY_HINT,
            )
        else:
            log.warning(
                "Zalo OA token refresh failed: %s. Keeping the current pair (access token valid "
                "until %s, %s left); retrying in %.0f min.",
                exc,
                _when(state.current.expires_at),
                left,
                delay / 60,
            )

    def _adopt_newer_file(self, used: str) -> bool:
        """If the file holds a newer pair than ours (another process refreshed), use it."""
        try:
            on_disk = self.store.load()
        except (ValueError, OSError):
            return False
        if on_disk is None or on_disk.current.refresh_token == used:
            return False
        if self.state and on_disk.previous and on_disk.previous.refresh_token == used:
            log.info("Zalo OA tokens were refreshed by another process; using them.")
            self.state = on_disk
            return True
        return False

    def _persist(self, state: TokenState) -> None:
        try:
            self.store.save(state)
        except OSError as exc:
            self._health.dirty = True
            log.critical(
                "Could not save Zalo OA tokens to %s (%s). They are kept in memory and saving is "
                "retried; if the process stops before it succeeds, the OA must be re-authorised. "
                "Free disk space / fix permissions now.",
                self.store.path,
                exc,
            )
        else:
            self._health.dirty = False

    def _flush(self) -> None:
        if self._health.dirty and self.state is not None:
            self._persist(self.state)
            if not self._health.dirty:
                log.warning("Zalo OA tokens saved to %s after an earlier failure.", self.store.path)


class ZaloOAClient:
    """Customer-service messages from the OA to a user who wrote to it."""

    def __init__(
        self,
        tokens: OATokenManager,
        api_base_url: str = "https://openapi.zalo.me",
        *,
        http: httpx.AsyncClient,
    ) -> None:
        self.tokens = tokens
        self.api_base_url = api_base_url.rstrip("/")
        self.http = http

    async def _call(self, what: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """POST with the access token; on a token error, refresh (or fall back) and retry once."""
        token = await self.tokens.access_token()
        for attempt in (1, 2):
            try:
                response = await self.http.post(
                    f"{self.api_base_url}{path}",
                    headers={"access_token": token},
                    timeout=DEFAULT_TIMEOUT,
                    **kwargs,
                )
            except httpx.HTTPError as exc:
                raise ZaloOAError(what, None, f"transport error: {type(exc).__name__}") from None
            try:
                data = response.json()
            except ValueError:
                raise ZaloOAError(what, response.status_code, "answer is not JSON") from None
            if not isinstance(data, dict):
                raise ZaloOAError(what, response.status_code, "answer is not a JSON object")
            code = data.get("error", 0)
            if code in (0, "0") and response.status_code < 400:
                result = data.get("data")
                return result if isinstance(result, dict) else {}
            error = ZaloOAError(
                what, code if isinstance(code, int) else None, str(data.get("message", ""))
            )
            if attempt == 1 and error.token_problem:
                other = await self.tokens.token_rejected(token)
                if other:
                    token = other
                    continue
            raise error
        raise AssertionError("unreachable")

    async def send_text(
        self, user_id: str, text: str, *, reply_to: str | None = None
    ) -> dict[str, Any]:
        body = {"recipient": recipient(user_id, reply_to), "message": {"text": text}}
        return await self._call("send text", "/v3.0/oa/message/cs", json=body)

    async def upload_image(self, data: bytes, filename: str, mime: str) -> str:
        result = await self._call(
            "upload image", "/v2.0/oa/upload/image", files={"file": (filename, data, mime)}
        )
        attachment_id = result.get("attachment_id")
        if not isinstance(attachment_id, str) or not attachment_id:
            raise ZaloOAError("upload image", None, "no attachment_id in the answer")
        return attachment_id

    async def send_image(
        self, user_id: str, attachment_id: str, text: str = "", *, reply_to: str | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "attachment_id": attachment_id}],
                },
            }
        }
        if text:
            message["text"] = text
        body = {"recipient": recipient(user_id, reply_to), "message": message}
        return await self._call("send image", "/v3.0/oa/message/cs", json=body)

    async def upload_file(self, data: bytes, filename: str, mime: str) -> str:
        result = await self._call(
            "upload file", "/v2.0/oa/upload/file", files={"file": (filename, data, mime)}
        )
        token = result.get("token")
        if not isinstance(token, str) or not token:
            raise ZaloOAError("upload file", None, "no token in the answer")
        return token

    async def send_file(
        self, user_id: str, file_token: str, *, reply_to: str | None = None
    ) -> dict[str, Any]:
        body = {
            "recipient": recipient(user_id, reply_to),
            "message": {"attachment": {"type": "file", "payload": {"token": file_token}}},
        }
        return await self._call("send file", "/v3.0/oa/message/cs", json=body)


def recipient(user_id: str, reply_to: str | None) -> dict[str, str]:
    """A reply to the user's message ``reply_to`` when given, else a message to ``user_id``."""
    return {"message_id": reply_to} if reply_to else {"user_id": user_id}
