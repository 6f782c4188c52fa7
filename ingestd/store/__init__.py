"""The case register: tables, sessions, blobs on disk, case numbers."""
