"""Outgoing mail over SMTP (`VEILLEUR_SMTP_*`), for OSPO escalations and digests."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from typing import Any

from bot.settings import Settings


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def build(self, action: Any) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.smtp_from
        msg["To"] = ", ".join(action.to)
        msg["Subject"] = action.subject
        if getattr(action, "once", None):
            msg["X-Veilleur-Key"] = action.once
        msg.set_content(action.text)
        if action.html:
            msg.add_alternative(action.html, subtype="html")
        return msg

    def _send(self, msg: EmailMessage) -> None:
        s = self.settings
        assert s.smtp_host is not None
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_username and s.smtp_password is not None:
                smtp.login(s.smtp_username, s.smtp_password.get_secret_value())
            smtp.send_message(msg)

    async def send(self, action: Any) -> None:
        await asyncio.to_thread(self._send, self.build(action))


def make_mailer(settings: Settings) -> Mailer | None:
    return Mailer(settings) if settings.smtp_host else None
