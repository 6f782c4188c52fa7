"""Monthly complaint statistics: `figures` (pure), `data` (from the register), `render` (HTML, CSV, PDF)."""
