"""The signed reports units sent back, on the web page: listed on the unit's page, each file
downloadable by staff within their scope only, and the whole set as the reports zip of
`baocao export --reports`."""

from __future__ import annotations

import io
import zipfile

from storage.models import SignedReport
from storage.repository import current_campaign, submission_for, unit_by_code
from storage.signed_reports import store_signed_report

PDF = b"%PDF-1.4\nsigned by Huyen uy Ninh Phuoc\n%%EOF\n"


def send_back(browser, code: str, name: str, data: bytes, contact_id: int) -> int:
    staff = browser.staff
    with staff.database.transaction() as session:
        submission = submission_for(session, current_campaign(session), unit_by_code(session, code))
        stored = store_signed_report(
            session,
            staff.data_dir,
            submission_id=submission.id,
            file_name=name,
            content_type="application/pdf",
            data=data,
            contact_id=contact_id,
            channel="telegram",
            now=staff.clock(),
        )
        return stored.report.id


async def test_the_unit_page_lists_the_signed_report_and_staff_download_it(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    report_id = send_back(browser, "HU-NP", "Báo cáo Ninh Phước.pdf", PDF, seeded["officer_np"])

    page = await (await browser.get("/web/don-vi/HU-NP")).text()
    assert "Báo cáo Ninh Phước.pdf" in page and f"{len(PDF)} byte" in page and "Anh" in page
    link = f"/web/tai-ve/don-vi/HU-NP/bao-cao-ky/{report_id}"
    assert f'href="{link}"' in page
    other = await (await browser.get("/web/don-vi/HU-NH")).text()
    assert "Đơn vị chưa gửi báo cáo có chữ ký." in other

    response = await browser.get(link)
    assert response.status == 200 and await response.read() == PDF
    assert response.content_type == "application/pdf"
    assert "B%C3%A1o%20c%C3%A1o%20Ninh%20Ph" in response.headers["Content-Disposition"]
    # The report belongs to HU-NP: asked for under another unit's address it is not found.
    assert (await browser.get(f"/web/tai-ve/don-vi/HU-NH/bao-cao-ky/{report_id}")).status == 404
    assert (await browser.get("/web/tai-ve/don-vi/HU-NP/bao-cao-ky/99999")).status == 404


async def test_a_stranger_gets_403_and_another_district_404(web, seeded, database):
    province = await web()
    await province.sign_in(seeded["province"])
    report_id = send_back(province, "HU-NH", "NH.pdf", PDF, seeded["officer_nh"])
    link = f"/web/tai-ve/don-vi/HU-NH/bao-cao-ky/{report_id}"

    stranger = await web()
    response = await stranger.get(link)
    assert response.status == 403 and PDF not in await response.read()

    district = await web()
    await district.sign_in(seeded["district"])  # Ninh Phước's secretariat
    response = await district.get(link)
    assert response.status == 404 and PDF not in await response.read()
    assert (await district.get("/web/tai-ve/bao-cao-co-chu-ky.zip")).status == 404


async def test_a_row_pointing_outside_the_data_folder_is_never_followed(web, seeded, tmp_path):
    browser = await web()
    await browser.sign_in(seeded["province"])
    report_id = send_back(browser, "HU-NP", "NP.pdf", PDF, seeded["officer_np"])
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not for the web")
    with browser.staff.database.transaction() as session:
        report = session.get(SignedReport, report_id)
        report.path = "signed/../../secret.txt"
        session.add(report)
    response = await browser.get(f"/web/tai-ve/don-vi/HU-NP/bao-cao-ky/{report_id}")
    assert response.status == 404 and b"not for the web" not in await response.read()


async def test_the_reports_zip_is_the_export_commands_archive(web, seeded):
    browser = await web()
    await browser.sign_in(seeded["province"])
    send_back(browser, "HU-NP", "Báo cáo NP.pdf", PDF, seeded["officer_np"])
    page = await (await browser.get("/web/tai-ve")).text()
    assert 'href="/web/tai-ve/bao-cao-co-chu-ky.zip"' in page

    response = await browser.get("/web/tai-ve/bao-cao-co-chu-ky.zip")
    assert response.status == 200 and response.content_type == "application/zip"
    assert "bao-cao-co-chu-ky" in response.headers["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(await response.read())).namelist()
    assert "HU-NP - Ban Thường vụ Huyện ủy Ninh Phước.pdf" in names
    drafts = [name for name in names if name.endswith(" (dự thảo).docx")]
    assert len(names) == 13 and len(drafts) == 12
    assert any(name.startswith("HU-NH - ") for name in drafts)
    log = await (await browser.get("/web/nhat-ky?viec=export")).text()
    assert "báo cáo có chữ ký (.zip)" in log
