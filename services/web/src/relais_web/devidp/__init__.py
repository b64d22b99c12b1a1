"""A local OpenID provider for development and tests only (``relais-dev-idp``, port 8010).

It lets a developer or a browser test sign in as one of the demo PRE's people without a
real identity provider. It never starts outside ``RELAIS_ENV=dev`` or ``test``.
"""
