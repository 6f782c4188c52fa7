"""Sources feed the intake pipeline: files and folders, drop folders, standard input (IMAP and scan
folders plug in beside them). A source hands over `RawInput`s and, once each is committed, lets go of
the original (moves the file, flags the message) — never before."""
