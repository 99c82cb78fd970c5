"""A signed report stored earlier with the sender's own type (a charset, a line break) is served
with its kind's type: the download answers 200, not a 500 or a dropped connection."""

from __future__ import annotations

import pytest

from storage.models import SignedReport
from tests.web.test_signed_reports_web import PDF, send_back


@pytest.mark.parametrize(
    "label", ['application/pdf; charset="utf-8"', "application/pdf\r\nX-Evil: 1", "text/html"]
)
async def test_a_stored_label_never_reaches_the_download(web, seeded, label):
    browser = await web()
    await browser.sign_in(seeded["province"])
    report_id = send_back(browser, "HU-NP", "bc.pdf", PDF, seeded["officer_np"])
    with browser.staff.database.transaction() as session:
        session.get(SignedReport, report_id).content_type = label
    response = await browser.get(f"/web/tai-ve/don-vi/HU-NP/bao-cao-ky/{report_id}")
    assert response.status == 200 and await response.read() == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert "X-Evil" not in response.headers
