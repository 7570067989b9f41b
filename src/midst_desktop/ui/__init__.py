"""The desktop app: tray, review window, integrations and settings (PySide6)."""
