"""The hub's address guard, :mod:`hub.netguard` (moved there so the badge verifier uses it too).

This module *is* that module (``sys.modules`` alias), so ``netguard.resolve`` patched here is the one
the guard uses.
"""

import sys

from hub import netguard as _netguard

sys.modules[__name__] = _netguard
