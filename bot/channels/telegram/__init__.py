"""Telegram channel: a thin python-telegram-bot adapter over the core engine.

``runner.run(settings)`` serves ``hocvuso serve telegram``;
``runner.build_application(settings, engine)`` builds the PTB application
(used by the runner, the tests and the benchmark).
"""
