"""ORA: the Node (tray app, core, tools, policy, storage, relay link)."""
