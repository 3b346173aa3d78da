"""Evidence files, the one package every upload goes through (validation evidence on a review,
evidence checks on an action).

- `checks`: size and type limits, the content checked against what the name claims, safe names;
- `storage`: private storage outside the web root (files 0600 in folders 0700), served only as
  downloads;
- `service`: keeping an uploaded file, recorded in the caller's unit of work;
- `models`: the stored file's row.
"""
