"""Excel exports built from stored answers: data loading (`data`), the consolidation rules
(`figures`), cells and styles (`cells`), one unit's Phụ lục (`unit_sheet`), the secretariat's
sheets (`consolidated`) and the workbooks (`excel`)."""
