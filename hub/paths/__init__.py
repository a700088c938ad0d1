"""Development paths (stackable micro-credentials): a set of steps (badge classes), required,
optional or in "N of these M" groups, that lead to a completion badge awarded by itself through the
one award operation once a learner holds what the path needs (:mod:`hub.paths.services`)."""
