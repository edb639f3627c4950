"""Role profiles an academy maintains (versioned, per organisation) and the required levels that
a learner's role profile and own objectives together set.

Every change of a role profile adds a version; the newest version is the current one (a ``retired``
version removes the role). Levels are numbers of the level scheme of the framework a profile names
(codes such as ``"B1"`` are accepted where the scheme has them). The recommender reads the current
version on each request (:func:`learner_targets`), so a change applies at once, without retraining.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adaptive.errors import DataFileError, UnknownIdError, ValidationError
from adaptive.framework import DEFAULT_FRAMEWORK_ID, Framework, get_framework
from api.persistence.tables import ROLE_ID_LENGTH, Learner, LearnerObjective, RoleProfile
from api.schemas import ROLE_ID_PATTERN

ROLE_COLUMNS = ("role_id", "title", "competence", "required_level")  # as recommender.data reads roles


def framework(framework_id: str | None) -> Framework:
    """The framework a profile's levels are in (default: the packaged one the catalogue uses)."""
    try:
        return get_framework(framework_id or DEFAULT_FRAMEWORK_ID)
    except UnknownIdError as exc:
        raise ValidationError(exc.detail, field="framework") from None


def level_number(fw: Framework, competence: str, level: Any, field_name: str) -> int:
    """``level`` (a number or a code of the framework's level scheme) for ``competence`` as a number;
    422 naming the competence or the level otherwise."""
    if competence not in fw.competence_ids:
        raise ValidationError(f"unknown competence {competence!r} in {fw.id}", field=field_name)
    try:
        return fw.level_scheme.number(level)
    except UnknownIdError:
        raise ValidationError(
            f"level {level!r} of competence {competence!r} is outside the {fw.id} level scheme "
            f"{fw.scheme_id!r} (1..{fw.n_levels}: {', '.join(fw.level_scheme.codes)})",
            field=field_name,
        ) from None


def required_levels(fw: Framework, levels: Mapping[str, Any], field_name: str = "required_levels") -> dict:
    if not levels:
        raise ValidationError("a role profile requires at least one competence", field=field_name)
    return {c: level_number(fw, c, lv, f"{field_name}.{c}") for c, lv in sorted(levels.items())}


# ------------------------------------------------------------------------------------------ reading
def _latest(org_id: int):  # noqa: ANN202
    return (
        select(RoleProfile.role_id, func.max(RoleProfile.version).label("version"))
        .where(RoleProfile.org_id == org_id)
        .group_by(RoleProfile.role_id)
        .subquery()
    )


def current_profiles(db: Session, org_id: int) -> list[RoleProfile]:
    """The organisation's roles at their current version (retired roles left out), by role id."""
    latest = _latest(org_id)
    return list(
        db.scalars(
            select(RoleProfile)
            .join(latest, (RoleProfile.role_id == latest.c.role_id)
                  & (RoleProfile.version == latest.c.version))
            .where(RoleProfile.org_id == org_id, RoleProfile.retired.is_(False))
            .order_by(RoleProfile.role_id)
        )
    )


def find_profile(db: Session, org_id: int, role_id: str, version: int | None = None) -> RoleProfile | None:
    """A version of a role (default: the newest, retired or not)."""
    query = select(RoleProfile).where(RoleProfile.org_id == org_id, RoleProfile.role_id == role_id)
    if version is not None:
        return db.scalar(query.where(RoleProfile.version == version))
    return db.scalar(query.order_by(RoleProfile.version.desc()).limit(1))


def current_profile(db: Session, org_id: int, role_id: str) -> RoleProfile | None:
    row = find_profile(db, org_id, role_id)
    return None if row is None or row.retired else row


def known_role(db: Session, org_id: int, role_id: str, field_name: str = "role") -> RoleProfile:
    """The current profile of a role a request body names (a learner's, a diagnostic's): a role without
    one is a bad value of that field (422 naming it), as a role in a path or query is a 404
    (:func:`get_profile`)."""
    row = current_profile(db, org_id, role_id)
    if row is None:
        raise ValidationError(f"unknown role {role_id!r}: no role profile in this organisation (see GET "
                              "/v1/roles)", field=field_name)
    return row


def get_profile(db: Session, org_id: int, role_id: str, version: int | None = None) -> RoleProfile:
    """The current (or a given) version of a role: 404 for a role this organisation has no profile of."""
    row = find_profile(db, org_id, role_id, version)
    if row is None or (version is None and row.retired):
        what = f"role {role_id!r}" + (f" version {version}" if version is not None else "")
        raise UnknownIdError("role", role_id, f"unknown {what}: no role profile in this organisation")
    return row


def has_profiles(db: Session, org_id: int) -> bool:
    """Whether the organisation keeps role profiles at all (any version, retired or not)."""
    return db.scalar(select(RoleProfile.id).where(RoleProfile.org_id == org_id).limit(1)) is not None


def versions(db: Session, org_id: int, role_id: str) -> list[RoleProfile]:
    return list(
        db.scalars(
            select(RoleProfile)
            .where(RoleProfile.org_id == org_id, RoleProfile.role_id == role_id)
            .order_by(RoleProfile.version)
        )
    )


def requirements_by_role(db: Session, org_id: int, framework_id: str) -> dict[str, dict[str, int]]:
    """``{role: {competence: level}}`` of the current profiles in ``framework_id`` (what insights compare
    levels with; a role profiled in another framework counts as a role without a profile)."""
    rows = current_profiles(db, org_id)
    return {p.role_id: dict(p.required) for p in rows if p.framework_id == framework_id}


# ------------------------------------------------------------------------------------------ writing
def save_profile(
    db: Session,
    org_id: int,
    role_id: str,
    title: str,
    framework_id: str,
    required: Mapping[str, int],
    actor: str,
    *,
    retired: bool = False,
) -> tuple[RoleProfile, bool]:
    """Add a version of the role unless the newest one says the same; returns (current row, changed).
    The caller commits; two writers at once collide on the unique version (the route answers 409)."""
    last = find_profile(db, org_id, role_id)
    same = (
        last is not None
        and last.retired == retired
        and (retired or (last.title == title and last.framework_id == framework_id
                         and dict(last.required) == dict(required)))
    )
    if same:
        return last, False
    row = RoleProfile(
        org_id=org_id,
        role_id=role_id,
        version=(last.version + 1) if last is not None else 1,
        title=title if not retired else last.title,
        framework_id=framework_id if not retired else last.framework_id,
        required=dict(required) if not retired else dict(last.required),
        retired=retired,
        created_by=actor,
    )
    db.add(row)
    db.flush()
    return row, True


@dataclass
class ImportSummary:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def read_profiles(path: str | Path, framework_id: str | None = None) -> dict[str, tuple[str, dict[str, int]]]:
    """Role profiles from a CSV/TSV/Parquet file (``role_id, title, competence, required_level``, one row
    per required competence), validated row by row: ``DataFileError`` names the file, line and column."""
    import re

    from recommender.data import read_table

    source = str(path)
    fw = framework(framework_id)
    frame = read_table(path, "roles").astype(str)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ROLE_COLUMNS if c not in frame.columns]
    if missing:
        raise DataFileError(f"missing column(s) {', '.join(missing)}", file=source, line=1, column=missing[0])
    if frame.empty:
        raise DataFileError("no role profile rows", file=source, line=2, column="role_id")
    out: dict[str, tuple[str, dict[str, int]]] = {}
    for i, rec in enumerate(frame.to_dict(orient="records")):
        line = i + 2  # header = line 1
        role, comp = rec["role_id"].strip(), rec["competence"].strip()
        title, level = rec["title"].strip(), rec["required_level"].strip()
        if not re.fullmatch(ROLE_ID_PATTERN, role) or len(role) > ROLE_ID_LENGTH:
            raise DataFileError(f"role id {role!r}: 1-{ROLE_ID_LENGTH} letters, digits, '.', '_', ':', '@', "
                                "'-'", file=source, line=line, column="role_id")
        if len(title) > 200:
            raise DataFileError("title longer than 200 characters", file=source, line=line, column="title")
        try:
            number = level_number(fw, comp, int(level) if level.isdigit() else level, "")
        except ValidationError as exc:
            column = "competence" if comp not in fw.competence_ids else "required_level"
            raise DataFileError(exc.reason, file=source, line=line, column=column) from None
        prev_title, levels = out.setdefault(role, (title, {}))
        if comp in levels:
            raise DataFileError(f"role {role!r} lists competence {comp!r} twice",
                                file=source, line=line, column="competence")
        levels[comp] = number
        if not prev_title and title:
            out[role] = (title, levels)
    return out


def import_profiles(
    db: Session, org_id: int, profiles: Mapping[str, tuple[str, Mapping[str, int]]], framework_id: str,
    actor: str,
) -> ImportSummary:
    """Save each role (a new version where it changed); roles not named are left as they are.
    In the caller's transaction: validate everything first (:func:`read_profiles`), so nothing half-done."""
    summary = ImportSummary()
    for role, (title, required) in sorted(profiles.items()):
        before = find_profile(db, org_id, role)
        _, changed = save_profile(db, org_id, role, title, framework_id, dict(sorted(required.items())),
                                  actor)
        (summary.unchanged if not changed else summary.created if before is None or before.retired
         else summary.updated).append(role)
    return summary


def seed_profiles(db: Session, org_id: int, roles: Any, actor: str,
                  framework_id: str = DEFAULT_FRAMEWORK_ID) -> ImportSummary | None:
    """Give an organisation without any role profile the profiles of a ``recommender.data.RoleProfiles``
    (the demo's, from the recommender's training data) as version 1; None if it has profiles already."""
    if has_profiles(db, org_id):
        return None
    fw = framework(framework_id)
    profiles = {r: (roles.title(r), required_levels(fw, roles.required_levels(r), f"role {r}"))
                for r in roles.role_ids if roles.required_levels(r)}
    return import_profiles(db, org_id, profiles, fw.id, actor)


def profiles_frame(rows: list[RoleProfile]) -> pd.DataFrame:
    """Current profiles in the import format (long form), so an export imports back unchanged."""
    recs = [(p.role_id, p.title, c, int(lv)) for p in rows for c, lv in sorted(p.required.items())]
    return pd.DataFrame(recs, columns=list(ROLE_COLUMNS))


# ------------------------------------------------------------------------- a learner's required levels
ROLE_WORDS, OBJECTIVE_WORDS = "your role needs", "your objective is"


@dataclass
class Targets:
    """A learner's required level per competence: max(role requirement, own objective) (stated rule: an
    objective can raise what the role asks, never lower it), and where each came from."""

    levels: dict[str, int]
    sources: dict[str, dict[str, Any]]
    role_profile: RoleProfile | None
    notes: list[str] = field(default_factory=list)

    @property
    def words(self) -> dict[str, str]:
        return {c: OBJECTIVE_WORDS if s["from"] == "objective" else ROLE_WORDS
                for c, s in self.sources.items()}

    def gaps(self, measured: Mapping[str, float | None], names: Mapping[str, str] | None = None,
             ) -> list[dict]:
        """Competences whose measured level is below the required level (unknown level: listed with
        ``level: null``), largest gap first, each saying where the required level came from."""
        out = []
        for c, req in self.levels.items():
            lv = measured.get(c)
            if lv is not None and lv >= req:
                continue
            out.append({"competence": c, "competence_name": (names or {}).get(c, ""),
                        "level": None if lv is None else int(round(lv)), "required_level": req,
                        "gap": None if lv is None else int(round(req - lv)), **self.sources[c]})
        return sorted(out, key=lambda g: (-(g["gap"] if g["gap"] is not None else -1), g["competence"]))


def objectives(db: Session, learner: Learner) -> list[LearnerObjective]:
    return list(
        db.scalars(
            select(LearnerObjective)
            .where(LearnerObjective.learner_id == learner.id)
            .order_by(LearnerObjective.competence)
        )
    )


@dataclass
class OrganisationTargets:
    """What every learner's required levels are made of in one organisation, read in two queries (its
    current role profiles by role, its learners' objectives by learner row id), so a report over all
    learners does not read them learner by learner."""

    profiles: dict[str, RoleProfile]
    objectives: dict[int, list[LearnerObjective]]


def organisation_targets(db: Session, org_id: int) -> OrganisationTargets:
    rows = db.scalars(
        select(LearnerObjective)
        .join(Learner, Learner.id == LearnerObjective.learner_id)
        .where(Learner.org_id == org_id)
        .order_by(LearnerObjective.learner_id, LearnerObjective.competence)
    )
    by_learner: dict[int, list[LearnerObjective]] = {}
    for o in rows:
        by_learner.setdefault(o.learner_id, []).append(o)
    return OrganisationTargets({p.role_id: p for p in current_profiles(db, org_id)}, by_learner)


def learner_targets(
    db: Session, learner: Learner, role_id: str | None, framework_id: str, role_profile: RoleProfile | None,
    learner_objectives: list[LearnerObjective] | None = None,
) -> Targets:
    """The required levels for ``learner`` towards ``role_id`` (its current profile ``role_profile``,
    None if the role has none) and the learner's objectives (``learner_objectives`` when already read,
    else read here); only levels in ``framework_id`` (the recommender's) apply, others are named in
    ``notes``."""
    levels: dict[str, int] = {}
    sources: dict[str, dict[str, Any]] = {}
    notes: list[str] = []
    if role_profile is not None:
        ref = {"role_id": role_profile.role_id, "version": role_profile.version}
        if role_profile.framework_id != framework_id:
            notes.append(f"role profile {role_profile.role_id!r} v{role_profile.version} is in "
                         f"{role_profile.framework_id}, the recommender works in {framework_id}: not applied")
        else:
            for c, lv in role_profile.required.items():
                levels[c] = int(lv)
                sources[c] = {"from": "role", "role_profile": ref, "objective": None}
    elif role_id:
        notes.append(f"role {role_id!r} has no role profile in this organisation: no role requirements")
    for o in objectives(db, learner) if learner_objectives is None else learner_objectives:
        if o.framework_id != framework_id:
            notes.append(f"objective for {o.competence} is in {o.framework_id}, the recommender works in "
                         f"{framework_id}: not applied")
            continue
        obj = {"target_level": o.target_level, "deadline": o.deadline.isoformat() if o.deadline else None}
        role_level = levels.get(o.competence)
        if role_level is None or o.target_level > role_level:
            levels[o.competence] = o.target_level
            sources[o.competence] = {"from": "objective",
                                     "role_profile": sources.get(o.competence, {}).get("role_profile"),
                                     "objective": obj}
        else:  # the role asks as much or more: the role's level stands, the objective is named too
            sources[o.competence] = {**sources[o.competence], "objective": obj,
                                     "from": "role and objective" if o.target_level == role_level else "role"}
    return Targets(levels, sources, role_profile, notes)


def recommender_framework_id(bundle: Any) -> str:
    """The framework the served recommender's catalogue is tagged in: a known framework of the bundle's
    framework version holding every competence of the catalogue (default: the packaged one)."""
    from adaptive.framework import known_frameworks

    comps = set(bundle.catalogue.competence_ids)
    for fw in known_frameworks().values():
        if fw.version == str(bundle.framework_version) and comps <= set(fw.competence_ids):
            return fw.id
    return DEFAULT_FRAMEWORK_ID
