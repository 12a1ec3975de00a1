"""The user's data: read files, detect columns, parse annotations, languages, rare labels, splits."""
