"""The learner's backpack: badges from anywhere, imported and verified (:mod:`hub.verification`), kept
beside the hub's own and re-verified on a schedule (job kind ``backpack.reverify``)."""
