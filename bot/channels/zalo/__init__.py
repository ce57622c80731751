"""Zalo channels: the Zalo Bot Platform and a Zalo Official Account (OA API v3).

Both are thin adapters over the same :class:`~bot.core.engine.Engine` as
Telegram and the console:

* :mod:`.bot_client` / :mod:`.bot_runner` — the Telegram-like Bot Platform
  (``hocvuso serve zalo-bot``): long polling, or a webhook when
  ``ZALO_BOT_WEBHOOK_URL`` is set;
* :mod:`.oa_client` / :mod:`.oa_runner` — an Official Account
  (``hocvuso serve zalo-oa``): signed webhook events in, OA message API out,
  with the single-use refresh token persisted safely;
* :mod:`.render` — buttons become numbered choices, long texts are split;
* :mod:`.security` — webhook secret and ``X-ZEvent-Signature`` checks;
* :mod:`.media` — attachment downloads and the short-lived file route used to
  hand charts to the Bot Platform (which only takes photo URLs);
* :mod:`.web` — the small tornado webhook server both runners share.

Channel names in :class:`~bot.core.messages.Incoming`: ``zalo_bot`` and
``zalo_oa``.
"""

BOT_CHANNEL = "zalo_bot"
OA_CHANNEL = "zalo_oa"

__all__ = ["BOT_CHANNEL", "OA_CHANNEL"]
