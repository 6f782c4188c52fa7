"""ingestd: a complaint-intake daemon.

Inputs (IMAP, scan folders, file drops, stdin) go through one intake pipeline of named stages
(receive → parse → thread → classify → record → respond) into one case register.
"""

__version__ = "0.1.0"
