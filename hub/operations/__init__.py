"""Operations: every action a person or a system takes, behind one door.

An operation takes a session (inside a :class:`hub.operations.uow.UnitOfWork`), the
:class:`hub.context.HubContext` and a :class:`hub.accounts.access.Principal` (a person, an API token, or
a system actor such as a connector or a job), checks permission, calls the domain services, records the
audit entry and registers after-commit effects (waking the job runner, delivering mail). Console views,
API resources, CLI commands, connectors (LTI, webhooks, Moodle) and jobs call operations; none of them
repeats those steps (DESIGN.md, "One door behind every door").

Operations never import :mod:`flask` request state (``request``, ``g``, the session): they take
arguments, so they run the same in a request, a job or a CLI command. The import-linter contracts in
``pyproject.toml`` keep it so.
"""
