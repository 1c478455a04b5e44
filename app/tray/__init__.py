"""The tray app: the only part of ORA that imports Qt. Dialogs take plain data, emit plain results."""
