"""The ORA core: conversation -> plan -> tool execution -> audit/memory -> response (Qt-free)."""
