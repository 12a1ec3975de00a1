"""Sessions saved by the previous tool: find, read, map, import; repair of missing strategy fields."""
