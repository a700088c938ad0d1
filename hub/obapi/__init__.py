"""The 1EdTech Open Badges API (Badge Connect, OB 2.1; and OB 3.0) with its OAuth 2.0 authorisation server.

Other hosts (Moodle's backpack export above all) register by Dynamic Client Registration (RFC 7591), ask
the signed-in learner's consent (authorization code with PKCE S256, RFC 7636), and push badges into the
learner's backpack or read them. ``models`` holds clients, codes and tokens (secrets stored hashed);
``services`` the request-free parts; the protocol endpoints are in :mod:`hub.web.obapi`.

Specs: https://www.imsglobal.org/spec/ob/v2p1/ and https://www.imsglobal.org/spec/ob/v3p0/#api
"""
