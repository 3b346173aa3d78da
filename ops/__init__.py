"""Operations: the entry points beside the domain (command line, demo data, bootstrap, backup)."""
