"""Pure value types shared by every stage; nothing here does I/O."""
