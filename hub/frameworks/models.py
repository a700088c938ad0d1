"""Qualifications frameworks, their descriptors, learning outcomes and alignments, micro-credentials.

- :class:`Framework` / :class:`Descriptor`: EQF and PRK levels (bundled), ESCO skills and occupations
  (imported), any custom framework (imported). A descriptor is what an OB alignment points at
  (OB 2.0 AlignmentObject / OB 3.0 Alignment: ``targetName``, ``targetUrl``, ``targetCode``...).
- :class:`LearningOutcome`: a badge class's stated outcomes (Polish/English), each aligned to descriptors.
- :class:`OutcomeMapping`: a platform's outcome key (Moodle competency idnumber, LTI custom parameter,
  webhook field value) -> descriptor, per connector (or for all connectors when ``connector_id`` is null).
- :class:`AchievedAlignment`: descriptors one award actually achieved; :class:`AwardGrade`: its grade.
- :class:`MicroCredentialDescription`: the elements of Annex I of Council Recommendation 2022/C 243/02
  that are not already on the badge class or its :class:`hub.credentials.models.AchievementDetails`.
"""

from __future__ import annotations

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import Assertion, BadgeClass
from hub.db import Base, PublicIdMixin, TimestampMixin


class Framework(PublicIdMixin, TimestampMixin, Base):
    """A framework of descriptors. ``identifier`` is a short stable slug (``eqf``, ``prk``,
    ``esco-skills``); ``target_type`` is the OB 3.0 ``Alignment.targetType`` its descriptors get
    (``ext:EQFLevel``, ``ceasn:Competency``...; null = none); ``source`` says where the data came from."""

    __tablename__ = "framework"

    identifier: Mapped[str] = mapped_column(String(64), unique=True)
    name_en: Mapped[str] = mapped_column(String(255))
    name_pl: Mapped[str | None] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(1024))
    target_type: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(Text)

    descriptors: Mapped[list[Descriptor]] = relationship(back_populates="framework", passive_deletes=True)


class Descriptor(TimestampMixin, Base):
    """One framework node: an EQF level, an ESCO skill, a sector register's qualification...

    ``code`` is unique in its framework (the import key: re-importing updates); ``url`` is the node's
    URI (``http://data.europa.eu/snb/eqf/4``, an ESCO concept URI). ``search_en``/``search_pl`` are the
    case-folded code, labels and alternative labels, for portable case-insensitive search.
    ``domains`` holds per-domain texts for framework levels (``{"knowledge": {"en":..,"pl":..}, ...}``);
    ``kind`` a framework-specific type (ESCO ``skillType``, ``occupation``).
    """

    __tablename__ = "descriptor"
    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("framework.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(1024))
    name_en: Mapped[str | None] = mapped_column(String(1024))
    name_pl: Mapped[str | None] = mapped_column(String(1024))
    description_en: Mapped[str | None] = mapped_column(Text)
    description_pl: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str | None] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(String(255))
    domains: Mapped[dict | None] = mapped_column(JSON)
    search_en: Mapped[str | None] = mapped_column(Text)
    search_pl: Mapped[str | None] = mapped_column(Text)

    framework: Mapped[Framework] = relationship(back_populates="descriptors")


class LearningOutcome(Base):
    """A learning outcome of a badge class (text in Polish and/or English), in ``position`` order."""

    __tablename__ = "learning_outcome"

    id: Mapped[int] = mapped_column(primary_key=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text_en: Mapped[str | None] = mapped_column(Text)
    text_pl: Mapped[str | None] = mapped_column(Text)

    badge_class: Mapped[BadgeClass] = relationship()
    descriptors: Mapped[list[Descriptor]] = relationship(
        secondary="learning_outcome_descriptor", order_by="Descriptor.id"
    )


class LearningOutcomeDescriptor(Base):
    """Alignment of a learning outcome to a descriptor (many to many)."""

    __tablename__ = "learning_outcome_descriptor"

    outcome_id: Mapped[int] = mapped_column(ForeignKey("learning_outcome.id", ondelete="CASCADE"), primary_key=True)
    descriptor_id: Mapped[int] = mapped_column(ForeignKey("descriptor.id", ondelete="CASCADE"), primary_key=True)


class OutcomeMapping(TimestampMixin, Base):
    """Platform outcome key -> descriptor. ``connector_id`` null: applies to every connector."""

    __tablename__ = "outcome_mapping"
    __table_args__ = (UniqueConstraint("connector_id", "outcome_key", "descriptor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connector_id: Mapped[int | None] = mapped_column(ForeignKey("connector.id", ondelete="CASCADE"))
    outcome_key: Mapped[str] = mapped_column(String(255), index=True)
    descriptor_id: Mapped[int] = mapped_column(ForeignKey("descriptor.id", ondelete="CASCADE"))

    descriptor: Mapped[Descriptor] = relationship()


class AchievedAlignment(Base):
    """A descriptor one award achieved, and the platform outcome key it came from (if any)."""

    __tablename__ = "achieved_alignment"
    __table_args__ = (UniqueConstraint("assertion_id", "descriptor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"), index=True)
    descriptor_id: Mapped[int] = mapped_column(ForeignKey("descriptor.id", ondelete="RESTRICT"))
    outcome_key: Mapped[str | None] = mapped_column(String(255))

    assertion: Mapped[Assertion] = relationship()
    descriptor: Mapped[Descriptor] = relationship()


class AwardGrade(Base):
    """The grade achieved in one award (micro-credential optional element "grade achieved")."""

    __tablename__ = "award_grade"

    id: Mapped[int] = mapped_column(primary_key=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"), unique=True)
    grade: Mapped[str] = mapped_column(String(255))

    assertion: Mapped[Assertion] = relationship()


class MicroCredentialDescription(TimestampMixin, Base):
    """Annex I elements of a badge class described as an EU micro-credential (2022/C 243/02).

    Elements kept elsewhere: title (``BadgeClass.name``), learning outcomes (:class:`LearningOutcome`),
    ECTS (``AchievementDetails.credits_available``; ``achievement_type`` ``MicroCredential`` makes the
    badge class a micro-credential), learner and date of issuing (the assertion). Here:
    ``issuer_country`` ISO 3166-1 alpha-2 (``PL``), ``issuer_region`` free text; ``awarding_bodies``
    ``[{"name", "url"?, "country"?}]``; ``workload_hours`` (when no ECTS); ``eqf_level`` 1-8,
    ``prk_level`` 1-8 (must equal the EQF level: the PRK is referenced 1:1), ``qf_ehea_cycle``
    (``short``/``first``/``second``/``third``); ``assessment_type``, ``participation_form``
    (``online``/``onsite``/``blended``), ``quality_assurance``; optional ``prerequisites``,
    ``supervision`` (see :data:`hub.frameworks.microcredentials.SUPERVISION`), ``stackability``
    (``standalone``/``stackable``) and ``stackable_towards``, ``grading_scheme``, ``further_information``.
    Free texts are ``{"en": ..., "pl": ...}`` dicts.
    """

    __tablename__ = "micro_credential_description"

    id: Mapped[int] = mapped_column(primary_key=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="CASCADE"), unique=True)
    issuer_country: Mapped[str | None] = mapped_column(String(2))
    issuer_region: Mapped[str | None] = mapped_column(String(255))
    awarding_bodies: Mapped[list] = mapped_column(JSON, default=list)
    workload_hours: Mapped[float | None] = mapped_column(Float)
    eqf_level: Mapped[int | None] = mapped_column(Integer)
    prk_level: Mapped[int | None] = mapped_column(Integer)
    qf_ehea_cycle: Mapped[str | None] = mapped_column(String(16))
    assessment_type: Mapped[dict | None] = mapped_column(JSON)
    participation_form: Mapped[str | None] = mapped_column(String(16))
    quality_assurance: Mapped[dict | None] = mapped_column(JSON)
    prerequisites: Mapped[dict | None] = mapped_column(JSON)
    supervision: Mapped[str | None] = mapped_column(String(48))
    stackability: Mapped[str | None] = mapped_column(String(16))
    stackable_towards: Mapped[str | None] = mapped_column(String(1024))
    grading_scheme: Mapped[dict | None] = mapped_column(JSON)
    further_information: Mapped[dict | None] = mapped_column(JSON)

    badge_class: Mapped[BadgeClass] = relationship()
