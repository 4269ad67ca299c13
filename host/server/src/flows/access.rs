//! Who may act in which role: the one set of role guards the API's `Caller`
//! and the pages' extractors both use. What a role may then do to a given
//! case, consent or version stays with the services and the marketplace.

use tongban_registry::release::Role;
use tongban_services::cases::CaseActor;

use super::error::{FlowError, FlowResult};

fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(" or ")
}

/// The citizen's platform subject, or a refusal for anyone else.
pub fn citizen(actor: &CaseActor) -> FlowResult<&str> {
    match (&actor.role, &actor.subject) {
        (Role::Citizen, Some(subject)) => Ok(subject),
        _ => Err(FlowError::Forbidden(format!(
            "this is for citizens about themselves; {} is a {}",
            actor.user, actor.role
        ))),
    }
}

/// The staff member's org, if they hold one of `roles` in an org.
pub fn staff_org<'a>(actor: &'a CaseActor, roles: &[Role]) -> FlowResult<&'a str> {
    match &actor.org {
        Some(org) if roles.contains(&actor.role) => Ok(org),
        _ => Err(FlowError::Forbidden(format!(
            "this needs the role {} of an org; {} is a {}",
            roles_text(roles),
            actor.user,
            actor.role
        ))),
    }
}

/// A refusal unless the actor holds one of `roles`.
pub fn require(actor: &CaseActor, roles: &[Role]) -> FlowResult<()> {
    if roles.contains(&actor.role) {
        Ok(())
    } else {
        Err(FlowError::Forbidden(format!(
            "this needs the role {}; {} is a {}",
            roles_text(roles),
            actor.user,
            actor.role
        )))
    }
}

/// The region a region admin administers.
pub fn admin_region(actor: &tongban_registry::market::Actor) -> FlowResult<&str> {
    match (actor.role, &actor.region) {
        (Role::RegionAdmin, Some(region)) => Ok(region),
        (Role::RegionAdmin, None) => Err(FlowError::Forbidden(format!("{} administers no region", actor.user))),
        _ => Err(FlowError::Forbidden(format!(
            "this needs the role {}; {} is a {}",
            Role::RegionAdmin,
            actor.user,
            actor.role
        ))),
    }
}

/// Who may read or step a case at all: its applicant, and the staff of the
/// orgs that take and handle it. Which case is theirs the case services
/// decide; other roles are refused before any case is looked up.
pub const CASE_ROLES: &[Role] = &[Role::Citizen, Role::WindowClerk, Role::Handler];

/// The staff roles that work cases in an org.
pub const CASE_STAFF: &[Role] = &[Role::WindowClerk, Role::Handler];

/// The roles that read the audit log and provenance.
pub const AUDIT_ROLES: &[Role] = &[Role::Auditor, Role::SecurityOfficer, Role::PlatformAdmin];
