"""Outgoing webhooks: per-issuer subscriptions to award and path events, signed with Standard Webhooks
and delivered from a durable outbox by the job runner (:mod:`hub.outgoing.services`)."""
