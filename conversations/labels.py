"""Words shown for stored codes (statuses, groups, levels), shared by chats and exports."""

from __future__ import annotations

from conversations.statuses import SubmissionStatus

STATUS_TITLES = {
    SubmissionStatus.NOT_STARTED: "chưa bắt đầu",
    SubmissionStatus.IN_PROGRESS: "đang điền",
    SubmissionStatus.SUBMITTED: "đã nộp",
    SubmissionStatus.RETURNED: "bị trả lại",
    SubmissionStatus.APPROVED: "đã duyệt",
}
GROUP_TITLES = {
    "kiem_tra_truc_tiep": "Kiểm tra trực tiếp",
    "tu_kiem_tra": "Tự kiểm tra",
}
GROUP_ORDER = ("kiem_tra_truc_tiep", "tu_kiem_tra")
NO_GROUP_TITLE = "Chưa phân nhóm"
LEVEL_TITLES = {"tinh": "Tỉnh", "so_nganh": "Sở, ngành", "huyen": "Huyện", "xa": "Xã"}


def status_title(status: str) -> str:
    return STATUS_TITLES.get(status, status)


def group_title(group: str | None) -> str:
    if not group:
        return NO_GROUP_TITLE
    return GROUP_TITLES.get(group, group)


def level_title(level: str) -> str:
    return LEVEL_TITLES.get(level, level)
