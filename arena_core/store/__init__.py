"""Session folders on disk: paths, atomic writes, the store, records, metrics log, listing."""
