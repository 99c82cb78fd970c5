"""The Ban Dân vận's web page, on the server `baocao run` already starts: sign-in by a
single-use link, the overview, the unit list, one unit with its actions, downloads and the
staff action log. Pages are server-rendered Jinja2 with plain forms; every action goes through
`bot.use_cases`, the same functions the chat commands and the command line call.

`routes` (the handlers, their plumbing and `add_staff_pages`), `downloads` (the list of files
and each download), `guard` (sessions, CSRF, headers), `pages` (what each page shows), `charts`
(the overview's SVG), `listing` (the unit list's search, filters and sorting), `review` (what is
read before Duyệt), `actions` (the checks that keep the feedback honest), `workspace` (Duyệt's
confirmation, the invite page, Nhắc for a filter, a district's files, built by
`bot.documents.district`) and `wording` (roles, channels and dates as people read them).
"""
