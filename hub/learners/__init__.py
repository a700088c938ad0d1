"""The learner's side: claim links and magic-link login, settings, curation and portfolio, data export
and deletion, and the e-mails that tell a recipient about an award. See README in hub/certificates."""
