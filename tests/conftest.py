"""The suite uses the library's own pytest plugin (``legal_data.testing.plugin``),
registered through the ``pytest11`` entry point, exactly as application teams do."""
