"""PDF certificates: one signed, self-verifying PDF per award, its cache and the check of uploaded PDFs.

See README.md beside this file. Entry points: :mod:`.services` (certificate / preview for an award),
:mod:`.verify` (check an uploaded PDF), :mod:`.keys` (the issuer's X.509 signing certificate).
"""
