"""Tests for storage (models, migrations, repository, progress) on real SQLite and PostgreSQL.

Every test that takes `database` runs twice, once per database, each on a fresh database
seeded with the bundled CT37 campaign and units (see tests/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import SQLModel, select

from conversations.campaigns import BUNDLED_CAMPAIGN, load_campaign
from conversations.forms import BUNDLED_FORMS
from conversations.statuses import CampaignState
from storage.database import (
    DatabaseUrlError,
    alembic_config,
    normalize_url,
    open_database,
    upgrade_schema,
)
from storage.hot_path import claim_inbound, usable_invite, write_answer
from storage.models import (
    Answer,
    AnswerHistory,
    Campaign,
    Contact,
    ConversationState,
    DownloadToken,
    Invite,
    Submission,
    Unit,
)
from storage.progress import campaign_progress
from storage.repository import (
    INVITE_ALPHABET,
    SeveralOpen,
    StorageError,
    UnitRow,
    campaign_by_code,
    campaign_by_id,
    campaign_form,
    campaign_spec,
    create_download_token,
    create_invite,
    current_campaign,
    find_download,
    list_units,
    open_campaigns,
    replace_units,
    save_campaign,
    seed_if_empty,
    submission_for,
    unit_by_code,
)

TABLES = {
    "alembic_version",
    "campaign",
    "unit",
    "contact",
    "invite",
    "submission",
    "answer",
    "answer_history",
    "conversation_state",
    "processed_inbound",
    "outbox",
    "reminder_log",
    "download_token",
}
NAMED_UNITS = {
    "BCSD-UBND": ("tinh", None),
    "DU-STNMT": ("so_nganh", None),
    "CB-TTT": ("so_nganh", None),
    "TU-PRTC": ("huyen", None),
    "DU-VANHAI": ("xa", "TU-PRTC"),
    "HU-NP": ("huyen", None),
    "DU-PHUOCDAN": ("xa", "HU-NP"),
    "HU-NH": ("huyen", None),
    "DU-TRIHAI": ("xa", "HU-NH"),
}
SAMPLE_UNITS = {"HU-BACAI", "HU-NINHSON", "HU-THUANBAC", "HU-THUANNAM"}


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def make_contact(session, now, *, unit: Unit | None, external_id: str = "u1", channel="telegram"):
    contact = Contact(
        channel=channel,
        external_id=external_id,
        chat_id=external_id,
        display_name=f"Cán bộ {external_id}",
        unit_id=unit.id if unit else None,
        created_at=now,
    )
    session.add(contact)
    session.flush()
    return contact


def answer(session, submission, key, value, now, *, contact=None, na=False, channel="telegram"):
    existing = session.exec(
        select(Answer).where(Answer.submission_id == submission.id, Answer.question_key == key)
    ).first()
    return write_answer(
        session,
        submission,
        key=key,
        value=value,
        not_applicable=na,
        raw="kad" if na else str(value),
        contact_id=contact.id if contact else None,
        channel=channel,
        now=now,
        existing=existing,
    )


def campaign_copy(tmp_path: Path, mutate_form=None, **spec_changes) -> Path:
    """A copy of the bundled campaign (and, when changed, of its form) in tmp_path."""
    raw = yaml.safe_load(BUNDLED_CAMPAIGN.read_text(encoding="utf-8"))
    form_path = BUNDLED_FORMS / "ct37_phuluc.yaml"
    if mutate_form is not None:
        form = yaml.safe_load(form_path.read_text(encoding="utf-8"))
        mutate_form(form)
        form_path = tmp_path / "form.yaml"
        form_path.write_text(yaml.safe_dump(form, allow_unicode=True), encoding="utf-8")
        raw.pop("outline")  # the bundled Đề cương names the bundled form's questions
    raw["form"] = str(form_path)
    raw.update(spec_changes)
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


# --- schema -----------------------------------------------------------------------------------


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def model_tables() -> set[str]:
    return set(SQLModel.metadata.tables) | {"alembic_version"}


def test_open_creates_every_table_on_an_empty_database(database_url):
    database = open_database(database_url)
    try:
        tables = set(inspect(database.engine).get_table_names())
        assert tables == model_tables()
        assert tables >= TABLES
        with database.transaction() as session:
            assert count(session, Campaign) == 0
            version = session.exec(text("SELECT version_num FROM alembic_version")).all()
        assert [row[0] for row in version] == [head_revision()]
    finally:
        database.dispose()


def test_upgrade_again_is_a_no_op_and_keeps_the_data(database, database_url):
    upgrade_schema(database)
    again = open_database(database_url)
    try:
        assert set(inspect(again.engine).get_table_names()) == model_tables()
        with again.transaction() as session:
            assert count(session, Campaign) == 1
            assert count(session, Unit) == 13
            assert session.exec(text("SELECT count(*) FROM alembic_version")).one()[0] == 1
    finally:
        again.dispose()


def test_migrations_match_the_models(database):
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


@pytest.mark.parametrize("url", ["mysql://x", "oracle://u@h/db", "not a url at all"])
def test_unsupported_database_urls_are_refused(url):
    with pytest.raises(DatabaseUrlError):
        open_database(url)


def test_url_normalisation():
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_url("postgresql+asyncpg://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_url("sqlite+aiosqlite:///x.db") == "sqlite:///x.db"


def test_transaction_rolls_back_on_error(database, clock):
    with pytest.raises(RuntimeError), database.transaction() as session:
        replace_units(session, [UnitRow("NEW", "Đơn vị mới", "xa")])
        raise RuntimeError("boom")
    with database.transaction() as session:
        assert count(session, Unit) == 13


# --- seed -------------------------------------------------------------------------------------


def test_seed_loads_the_ct37_campaign_and_the_units(database, clock):
    with database.transaction() as session:
        campaign = current_campaign(session)
        assert campaign.code == "ct37-2022"
        assert campaign.form_key == "ct37_phuluc"
        assert campaign.receiver == "Ban Dân vận Tỉnh ủy"
        assert len(campaign_form(campaign).questions) == 24
        assert campaign_spec(campaign).timezone == "Asia/Ho_Chi_Minh"
        units = {u.code: u for u in list_units(session)}
        by_id = {u.id: u.code for u in units.values()}
        assert len(units) == 13
        assert set(units) == set(NAMED_UNITS) | SAMPLE_UNITS
        for code, (level, parent) in NAMED_UNITS.items():
            assert (units[code].level, by_id.get(units[code].parent_id)) == (level, parent)
            assert units[code].group == "kiem_tra_truc_tiep"
            assert "(mẫu)" not in units[code].name
        for code in SAMPLE_UNITS:
            assert units[code].group == "tu_kiem_tra"
            assert units[code].name.endswith("(mẫu)")
        assert units["HU-NP"].name == "Ban Thường vụ Huyện ủy Ninh Phước"
        assert seed_if_empty(session, clock()) is False
        assert count(session, Campaign) == 1


def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(database, clock):
    with database.transaction() as session:
        campaign = session.exec(select(Campaign)).one()
        contact = make_contact(session, clock(), unit=None)
        contact_id, campaign_id = contact.id, campaign.id
    with database.transaction() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.deadline == datetime(2022, 7, 4, 17, 0, tzinfo=UTC)
        assert campaign.deadline.tzinfo is UTC
        assert campaign.created_at == clock()
        contact = session.get(Contact, contact_id)
        assert contact.created_at.tzinfo is UTC
        assert contact.last_seen_at is None
    # A naive datetime is a programming error, refused before it reaches the database.
    with pytest.raises(StatementError, match="naive"), database.transaction() as session:
        session.add(
            Contact(channel="x", external_id="1", chat_id="1", created_at=datetime(2022, 1, 1))
        )
        session.flush()


# --- answers ----------------------------------------------------------------------------------


def test_answer_and_its_history(database, clock):
    with database.transaction() as session:
        campaign = current_campaign(session)
        unit = unit_by_code(session, "HU-NP")
        first = make_contact(session, clock(), unit=unit, external_id="a")
        second = make_contact(session, clock(), unit=unit, external_id="b", channel="zalo")
        submission = submission_for(session, campaign, unit)
        answer(session, submission, "inspection_teams", {"value": 3}, clock(), contact=first)
        ids = (submission.id, first.id, second.id)
    clock.advance(hours=2)
    with database.transaction() as session:
        submission = session.get(Submission, ids[0])
        answer(
            session, submission, "inspection_teams", None, clock(), contact=second, na=True,
            channel="zalo",
        )  # fmt: skip
    with database.transaction() as session:
        row = session.exec(select(Answer)).one()
        assert (row.value, row.not_applicable, row.raw_text) == (None, True, "kad")
        assert (row.updated_by, row.channel, row.updated_at) == (ids[2], "zalo", clock())
        history = session.exec(select(AnswerHistory).order_by(AnswerHistory.id)).all()
        assert [
            (h.contact_id, h.channel, h.at, h.old_value, h.old_not_applicable, h.new_value,
             h.new_not_applicable, h.raw_text)
            for h in history
        ] == [
            (ids[1], "telegram", clock() - timedelta(hours=2), None, None, {"value": 3}, False,
             "{'value': 3}"),
            (ids[2], "zalo", clock(), {"value": 3}, False, None, True, "kad"),
        ]  # fmt: skip


def test_one_answer_and_one_conversation_state_per_key(database, clock):
    with database.transaction() as session:
        campaign = current_campaign(session)
        unit = unit_by_code(session, "HU-NP")
        contact = make_contact(session, clock(), unit=unit)
        submission = submission_for(session, campaign, unit)
        ids = (campaign.id, contact.id, submission.id)
    with pytest.raises(IntegrityError), database.transaction() as session:
        for _ in range(2):
            session.add(Answer(submission_id=ids[2], question_key="complaints", updated_at=clock()))
            session.flush()
    with pytest.raises(IntegrityError), database.transaction() as session:
        for _ in range(2):
            state = {"mode": "start"}
            session.add(
                ConversationState(
                    contact_id=ids[1],
                    campaign_id=ids[0],
                    submission_id=ids[2],
                    state=state,
                    updated_at=clock(),
                )
            )
            session.flush()


def test_submission_for_is_unique_per_campaign_and_unit(database, clock):
    with database.transaction() as session:
        campaign = current_campaign(session)
        unit = unit_by_code(session, "hu-np")
        first = submission_for(session, campaign, unit)
        assert submission_for(session, campaign, unit, lock=True).id == first.id
        other = submission_for(session, campaign, unit_by_code(session, "HU-NH"))
        assert other.id != first.id
        assert first.status == "not_started"
    with database.transaction() as session:
        again = submission_for(session, campaign, unit)
        assert again.id == first.id
        assert count(session, Submission) == 2
    with pytest.raises(IntegrityError), database.transaction() as session:
        session.add(Submission(campaign_id=campaign.id, unit_id=unit.id))
        session.flush()


# --- inbound de-duplication ---------------------------------------------------------------------


def test_claim_inbound_deduplicates(database, clock):
    with database.transaction() as session:
        assert claim_inbound(session, "telegram", "1001", clock()) is True
        # A duplicate inside the same transaction does not break it.
        assert claim_inbound(session, "telegram", "1001", clock()) is False
        assert claim_inbound(session, "zalo", "1001", clock()) is True
        replace_units(session, [UnitRow("NEW", "Đơn vị mới", "xa")])
    with database.transaction() as session:
        assert claim_inbound(session, "telegram", "1001", clock()) is False
        assert claim_inbound(session, "telegram", "1002", clock()) is True
        assert unit_by_code(session, "NEW").name == "Đơn vị mới"


# --- campaigns ----------------------------------------------------------------------------------


def test_save_campaign_updates_a_changed_file_without_touching_answers(database, clock, tmp_path):
    with database.transaction() as session:
        campaign = current_campaign(session)
        submission = submission_for(session, campaign, unit_by_code(session, "HU-NP"))
        answer(session, submission, "complaints", {"done": 4, "total": 5}, clock())
        campaign_id = campaign.id

    def relabel(form):
        form["questions"][0]["label"] = "Văn bản của cấp ủy Đảng (đã sửa)"

    path = campaign_copy(
        tmp_path, relabel, title="Tiêu đề mới", deadline="2022-07-10T00:00:00+07:00"
    )
    clock.advance(days=1)
    with database.transaction() as session:
        saved = save_campaign(session, load_campaign(path), clock())
        assert saved.id == campaign_id
    with database.transaction() as session:
        campaign = current_campaign(session)
        assert count(session, Campaign) == 1
        assert campaign.title == "Tiêu đề mới"
        assert campaign.deadline == datetime(2022, 7, 9, 17, 0, tzinfo=UTC)
        assert campaign.updated_at == clock()
        assert campaign.created_at == clock() - timedelta(days=1)
        assert campaign_form(campaign).questions[0].label.endswith("(đã sửa)")
        stored = session.exec(select(Answer)).one()
        assert (stored.question_key, stored.value) == ("complaints", {"done": 4, "total": 5})


def test_save_campaign_refuses_a_form_that_orphans_answers(database, clock, tmp_path):
    with database.transaction() as session:
        campaign = current_campaign(session)
        submission = submission_for(session, campaign, unit_by_code(session, "HU-NP"))
        answer(session, submission, "complaints", {"done": 4, "total": 5}, clock())
        form_yaml = campaign.form_yaml

    def drop(*keys):
        def mutate(form):
            form["questions"] = [q for q in form["questions"] if q["key"] not in keys]

        return mutate

    path = campaign_copy(tmp_path, drop("complaints", "supervisions"), title="Khác")
    clock.advance(minutes=5)
    with pytest.raises(StorageError) as caught, database.transaction() as session:
        save_campaign(session, load_campaign(path), clock())
    assert "complaints" in str(caught.value)
    assert "supervisions" not in str(caught.value)  # not answered: may go
    with database.transaction() as session:
        campaign = current_campaign(session)
        assert campaign.form_yaml == form_yaml
        assert campaign.title != "Khác"
    # Dropping an unanswered question is fine.
    with database.transaction() as session:
        save_campaign(
            session, load_campaign(campaign_copy(tmp_path, drop("supervisions"))), clock()
        )
        assert len(campaign_form(current_campaign(session)).questions) == 23


def test_a_new_campaign_code_is_a_new_campaign(database, clock, tmp_path):
    path = campaign_copy(tmp_path, code="ct37-2023", deadline="2023-07-05T00:00:00+07:00")
    with database.transaction() as session:
        save_campaign(session, load_campaign(path), clock())
    with database.transaction() as session:
        assert count(session, Campaign) == 2
        with pytest.raises(SeveralOpen) as several:  # both open: the caller must say which
            current_campaign(session)
        assert several.value.codes == ["ct37-2023", "ct37-2022"]  # latest deadline first
        assert current_campaign(session, "ct37-2022").code == "ct37-2022"
        assert campaign_by_code(session, "ct37-2023").code == "ct37-2023"
        by_id = campaign_by_id(session, campaign_by_code(session, "ct37-2022").id)
        assert by_id.code == "ct37-2022"
        with pytest.raises(StorageError, match="không có đợt"):
            current_campaign(session, "nope")
        with pytest.raises(StorageError, match="không có đợt"):
            current_campaign(session, str(by_id.id))  # an id is not a code
        closing = campaign_by_code(session, "ct37-2023")
        closing.state = CampaignState.CLOSED
        closing.updated_at = clock()
        session.add(closing)
    with database.transaction() as session:
        assert current_campaign(session).code == "ct37-2022"  # the only open one
        assert [c.code for c in open_campaigns(session)] == ["ct37-2022"]
        bundled = campaign_by_code(session, "ct37-2022")
        bundled.state = CampaignState.CLOSED
        session.add(bundled)
    with database.transaction() as session:
        assert open_campaigns(session) == []
        assert current_campaign(session).code == "ct37-2023"  # none open: the latest, to export


# --- invites ----------------------------------------------------------------------------------


def test_invites_are_single_use_expire_and_ignore_case(database, clock):
    with database.transaction() as session:
        unit = unit_by_code(session, "HU-NP")
        invite = create_invite(
            session, role="officer", unit=unit, now=clock(), valid_for=timedelta(days=30)
        )
        code = invite.code
        assert len(code) == 8 and set(code) <= set(INVITE_ALPHABET)
        assert invite.expires_at == clock() + timedelta(days=30)
        for typed in (code, code.lower(), f"  {code[:4]}-{code[4:]} ", code.title()):
            assert usable_invite(session, typed, clock()).id == invite.id
        assert usable_invite(session, "ZZZZZZZZ", clock()) is None
        assert usable_invite(session, "", clock()) is None
        assert usable_invite(session, "A" * 200, clock()) is None
        # Expiry is exclusive: at expires_at it no longer works.
        assert usable_invite(session, code, clock() + timedelta(days=30, seconds=-1))
        assert usable_invite(session, code, clock() + timedelta(days=30)) is None
        row = session.get(Invite, invite.id)
        assert row.code_hash != code and code not in row.code_hash  # only the hash is kept
        row.used_at = clock()
        session.add(row)
        session.flush()
        assert usable_invite(session, code, clock()) is None
        # Officers' invites name a unit; the secretariat's do not.
        with pytest.raises(StorageError, match="mã đơn vị"):
            create_invite(session, role="officer", unit=None, now=clock(), valid_for=timedelta(1))
        invite = create_invite(
            session, role="secretariat", unit=None, now=clock(), valid_for=timedelta(days=1)
        )
        assert (invite.role, invite.unit_id) == ("secretariat", None)
        day = timedelta(days=1)
        codes = {
            create_invite(session, role="secretariat", unit=None, now=clock(), valid_for=day).code
            for _ in range(20)
        }
        assert len(codes) == 20


# --- units ------------------------------------------------------------------------------------


def test_replace_units_updates_by_code_and_sets_parents(database):
    rows = [
        UnitRow("HU-NP", "Huyện ủy Ninh Phước (đổi tên)", "huyen", "", "kiem_tra_truc_tiep"),
        UnitRow("DU-PHUOCHAU", "Đảng ủy xã Phước Hậu", "xa", "HU-NP", "tu_kiem_tra"),
        UnitRow("DU-PHUOCDAN", "Đảng ủy thị trấn Phước Dân", "xa", "HU-NH", "kiem_tra_truc_tiep"),
        UnitRow("DU-VANHAI", "Đảng ủy phường Văn Hải", "xa", "", ""),
    ]
    with database.transaction() as session:
        assert replace_units(session, rows) == (1, 3)
    with database.transaction() as session:
        units = {u.code: u for u in list_units(session)}
        assert len(units) == 14
        assert units["HU-NP"].name == "Huyện ủy Ninh Phước (đổi tên)"
        assert units["DU-PHUOCHAU"].parent_id == units["HU-NP"].id
        assert units["DU-PHUOCHAU"].group == "tu_kiem_tra"
        assert units["DU-PHUOCDAN"].parent_id == units["HU-NH"].id
        assert units["DU-VANHAI"].parent_id is None
        assert units["DU-VANHAI"].group is None
        # Units not in the file are left alone.
        assert units["DU-TRIHAI"].parent_id == units["HU-NH"].id


def test_replace_units_matches_codes_and_parents_whatever_their_case(database):
    rows = [
        UnitRow("hu-np", "Huyện ủy Ninh Phước", "huyen"),
        UnitRow("DU-PHUOCHAI", "Đảng ủy xã Phước Hải", "xa", "hu-np"),
    ]
    with database.transaction() as session:
        assert replace_units(session, rows) == (1, 1)
    with database.transaction() as session:
        units = {u.code: u for u in list_units(session)}
        assert len(units) == 14
        assert "hu-np" not in units
        assert units["DU-PHUOCHAI"].parent_id == units["HU-NP"].id
        assert unit_by_code(session, " hu-np ").code == "HU-NP"
        with pytest.raises(StorageError, match="XX"):
            unit_by_code(session, "XX")


# --- download tokens --------------------------------------------------------------------------


def test_download_tokens_expire_and_only_their_hash_is_stored(database, clock):
    with database.transaction() as session:
        campaign = current_campaign(session)
        token = create_download_token(
            session,
            campaign_id=campaign.id,
            unit_id=None,
            contact_id=None,
            now=clock(),
            valid_for=timedelta(hours=24),
        )
    with database.transaction() as session:
        row = find_download(session, token, clock() + timedelta(hours=23, minutes=59))
        assert row is not None and row.campaign_id == campaign.id
        assert token not in {r.token_hash for r in session.exec(select(DownloadToken))}
        assert find_download(session, token, clock() + timedelta(hours=24)) is None
        assert find_download(session, token[:-1], clock()) is None
        assert find_download(session, "", clock()) is None
        assert find_download(session, "x" * 500, clock()) is None


# --- progress ---------------------------------------------------------------------------------


def test_campaign_progress_counts(database, clock):
    with database.transaction() as session:
        campaign = current_campaign(session)
        replace_units(session, [UnitRow("KHAC", "Đơn vị ngoài đợt", "huyen", "", "khac")])
        hu_np = unit_by_code(session, "HU-NP")
        officer = make_contact(session, clock(), unit=hu_np)
        submission = submission_for(session, campaign, hu_np)
        answer(session, submission, "inspection_teams", {"value": 0}, clock())
        answer(session, submission, "inspected_units", None, clock(), na=True)
        answer(session, submission, "complaints", {"done": 1, "total": 2}, clock())
        # Not asked of a district: does not count.
        answer(session, submission, "dialogue_province_party", {"value": 1}, clock())
        submission.status, submission.submitted_by = "submitted", officer.id
        submission.submitted_at = clock()
        tri_hai = submission_for(session, campaign, unit_by_code(session, "DU-TRIHAI"))
        tri_hai.status = "in_progress"
        session.add_all([submission, tri_hai])
    with database.transaction() as session:
        progress = {p.unit.code: p for p in campaign_progress(session, current_campaign(session))}
    assert len(progress) == 13
    assert "KHAC" not in progress
    np = progress["HU-NP"]
    assert (np.status, np.answered, np.total, np.open_count, np.done) == (
        "submitted", 3, 18, 15, True,
    )  # fmt: skip
    assert np.submitted_by == "Cán bộ u1"
    assert np.submitted_at == clock()
    assert (progress["DU-TRIHAI"].status, progress["DU-TRIHAI"].answered) == ("in_progress", 0)
    assert progress["DU-TRIHAI"].parent.code == "HU-NH"
    assert progress["DU-TRIHAI"].total == 14
    assert progress["BCSD-UBND"].total == 24
    assert progress["DU-STNMT"].total == 14
    assert progress["HU-NH"].status == "not_started"
    assert progress["HU-NH"].submission_id is None
    assert not progress["HU-NH"].done
