"""Running sessions: launch, wait, cancel, resume, relaunch, and the background worker."""
