"""Everything served over HTTP: the one server (`server`), the Zalo officers' upload page
(`upload_page`) and the Ban Dân vận's staff pages (`staff`)."""
