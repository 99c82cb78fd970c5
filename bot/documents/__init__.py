"""The files staff and officers receive, built from what is stored: Excel workbooks
(`workbooks`), Word report drafts (`word_reports`) and the signed-reports bundle
(`report_files`)."""
