"""Imports every model module so that ``Base.metadata`` is complete (Alembic, tests)."""

from hub.accounts.models import ApiToken, AuditEntry, BulkJob, Membership, User  # noqa: F401
from hub.backpack.models import ImportedBadge  # noqa: F401
from hub.badges.models import Assertion, BadgeClass, Issuer, IssuerKey  # noqa: F401
from hub.certificates.models import CertificateLayout, IssuerCertificate, RenderedFile  # noqa: F401
from hub.connections.models import ConnectorConfig  # noqa: F401
from hub.credentials.models import (  # noqa: F401
    AchievementDetails,
    CredentialStatusEntry,
    IssuerCredentialSettings,
    RecipientIdentifier,
    StatusList,
    StoredCredential,
)
from hub.frameworks.models import (  # noqa: F401
    AchievedAlignment,
    AwardGrade,
    Descriptor,
    Framework,
    LearningOutcome,
    LearningOutcomeDescriptor,
    MicroCredentialDescription,
    OutcomeMapping,
)
from hub.inbox.models import InboundEvent  # noqa: F401
from hub.jobs.models import Job  # noqa: F401
from hub.learners.models import Learner, LearnerBadge, LearnerEmail, LinkToken, Notification  # noqa: F401
from hub.obapi.models import OAuthClient, OAuthCode, OAuthToken  # noqa: F401
from hub.outgoing.models import WebhookDelivery, WebhookSubscription  # noqa: F401
from hub.paths.models import Path, PathCompletion, PathGroup, PathStep  # noqa: F401
from hub.ratelimit import RateLimitCounter  # noqa: F401
from hub.rules.models import AwardRule  # noqa: F401
from hub.wallets.models import WalletNonce, WalletOffer  # noqa: F401
