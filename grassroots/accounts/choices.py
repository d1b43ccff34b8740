from django.db import models
from django.utils.translation import gettext_lazy as _

from grassroots.areas.choices import Level


class Role(models.TextChoices):
    """Roles a user holds at one node of the tree; a grant covers the node's whole subtree."""

    CITY_ADMIN = "city_admin", _("City administrator")
    DISTRICT_STAFF = "district_staff", _("District staff")
    STREET_STAFF = "street_staff", _("Street staff")
    COMMUNITY_STAFF = "community_staff", _("Community staff")
    GRID_WORKER = "grid_worker", _("Grid worker")
    AUDITOR = "auditor", _("Auditor")
    SECURITY_ADMIN = "security_admin", _("Security administrator")
    MEDIATOR = "mediator", _("People's mediator")
    LEGAL_ADVISER = "legal_adviser", _("Legal adviser")


# The levels of the tree at which each role may be granted. A city administrator may also be bound to
# a province, for a deployment that spans several cities.
ROLE_LEVELS: dict[str, frozenset[int]] = {
    Role.CITY_ADMIN: frozenset({Level.PROVINCE, Level.CITY}),
    Role.DISTRICT_STAFF: frozenset({Level.DISTRICT}),
    Role.STREET_STAFF: frozenset({Level.STREET}),
    Role.COMMUNITY_STAFF: frozenset({Level.COMMUNITY}),
    Role.GRID_WORKER: frozenset({Level.GRID, Level.MICROGRID}),
    Role.AUDITOR: frozenset({Level.PROVINCE, Level.CITY, Level.DISTRICT, Level.STREET}),
    Role.SECURITY_ADMIN: frozenset({Level.PROVINCE, Level.CITY}),
    Role.MEDIATOR: frozenset({Level.STREET, Level.COMMUNITY}),
    Role.LEGAL_ADVISER: frozenset({Level.STREET, Level.COMMUNITY}),
}

# Roles whose grants open the tree and the registry. The auditor reads the audit trail of a subtree
# and nothing else (separation of duties).
STAFF_ROLES: frozenset[str] = frozenset(
    {Role.CITY_ADMIN, Role.DISTRICT_STAFF, Role.STREET_STAFF, Role.COMMUNITY_STAFF, Role.GRID_WORKER}
)
AUDIT_ROLES: frozenset[str] = frozenset({Role.AUDITOR})
# Mediators and legal advisers (一村(居)一法律顾问) see the disputes assigned to them, nothing else.
MEDIATION_ROLES: frozenset[str] = frozenset({Role.MEDIATOR, Role.LEGAL_ADVISER})
# Roles that see who belongs to a care group (elderly living alone, disabled, ...): the people who
# visit and support them. Leaders above the street see these groups only as counts.
CARE_ROLES: frozenset[str] = frozenset({Role.STREET_STAFF, Role.COMMUNITY_STAFF, Role.GRID_WORKER})

# Roles that may create and manage accounts for nodes strictly below their own.
MANAGING_ROLES: frozenset[str] = frozenset(
    {Role.CITY_ADMIN, Role.DISTRICT_STAFF, Role.STREET_STAFF, Role.COMMUNITY_STAFF}
)

# Separation of duties (等级保护 三员分立): system administration, security administration and audit
# are held by different people; nobody holds two of these roles.
SEPARATED_ROLES: frozenset[str] = frozenset({Role.CITY_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR})
# Roles that must sign in with a second factor when TOTP is required (street level and above).
TOTP_ROLES: frozenset[str] = frozenset(
    {Role.CITY_ADMIN, Role.SECURITY_ADMIN, Role.AUDITOR, Role.DISTRICT_STAFF, Role.STREET_STAFF}
)
