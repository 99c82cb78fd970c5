"""The one resolver from "send this file" to what a channel can carry: the file's bytes
(channels that send files) or a 24-hour download link (channels that cannot). Excel exports and
Word draft reports are built when delivered, never stored in the outbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlmodel import select

from bot import use_cases
from bot.channels.base import ExportFile
from bot.clock import Clock
from bot.documents.word_reports import REPORT_KIND, report_bytes
from bot.documents.workbooks import export_bytes
from bot.messaging import Attachment, Undeliverable
from bot.use_cases import Desk
from storage.database import Database
from storage.models import Campaign, Contact
from storage.repository import StorageError, unit_by_code


@dataclass
class ExportResolver:
    database: Database
    clock: Clock
    desk: Desk

    async def as_file(self, attachment: Attachment) -> ExportFile:
        return await asyncio.to_thread(self._build, attachment)

    async def as_link(self, attachment: Attachment, channel: str, chat_id: str) -> str:
        """A download link; `Undeliverable` when the campaign or unit is gone."""
        return await asyncio.to_thread(self._link, attachment, channel, chat_id)

    def _build(self, attachment: Attachment) -> ExportFile:
        build = report_bytes if attachment.kind == REPORT_KIND else export_bytes
        filename, data = build(
            self.database,
            campaign_id=attachment.campaign_id,
            unit_code=attachment.unit_code,
            now=self.clock(),
        )
        return ExportFile(filename, data)

    def _link(self, attachment: Attachment, channel: str, chat_id: str) -> str:
        now = self.clock()
        with self.database.transaction() as session:
            campaign = session.get(Campaign, attachment.campaign_id)
            if campaign is None:
                raise Undeliverable("đợt báo cáo của tệp đính kèm không còn")
            try:
                unit = unit_by_code(session, attachment.unit_code) if attachment.unit_code else None
            except StorageError as error:
                raise Undeliverable(str(error)) from None
            contact = session.exec(
                select(Contact).where(Contact.channel == channel, Contact.chat_id == chat_id)
            ).first()
            return use_cases.download_link(
                session,
                now,
                self.desk,
                campaign_id=campaign.id,
                unit_id=unit.id if unit else None,
                contact_id=contact.id if contact else None,
                kind=attachment.kind,
            )
