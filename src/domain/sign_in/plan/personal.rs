//! The person's own Profile: under the name derived from their user name, or its
//! collision-safe variant when that is a look-alike's; never someone else's, and its owner
//! never changed. Pure.

use crate::domain::model::objects::{Object, USER_LABEL};
use crate::domain::sign_in::desired::DesiredState;

use super::existing::covers;
use super::{Observed, PersonalProfile, profile_owner};

/// The person's own Profile to apply (none when it is as desired or not theirs), and what
/// became of it.
pub(super) fn plan_personal(
    desired: &DesiredState,
    observed: &Observed,
) -> (Option<Object>, PersonalProfile) {
    let (Some(base), Some(variant)) =
        (&desired.personal_profile, &desired.personal_profile_variant)
    else {
        return (None, PersonalProfile::NoName);
    };
    let candidates = [base, variant];
    let existing = |wanted: &Object| observed.profiles.get(&wanted.name);
    let is_theirs = |profile: &Object| {
        profile_owner(profile) != Some(desired.email.as_str())
            && !is_persons_profile(profile, desired)
    };
    // This person's existing Profile (under either name), else the first free name.
    let mine = candidates
        .iter()
        .find(|c| existing(c).is_some_and(|p| !is_theirs(p)))
        .or_else(|| candidates.iter().find(|c| existing(c).is_none()));
    let Some(&wanted) = mine else {
        let owner = existing(base).and_then(profile_owner).unwrap_or_default();
        return (
            None,
            PersonalProfile::OwnedBySomeoneElse {
                name: base.name.clone(),
                owner: owner.to_owned(),
            },
        );
    };
    let chosen = if wanted.name == variant.name {
        PersonalProfile::Variant {
            name: variant.name.clone(),
        }
    } else {
        PersonalProfile::Unchanged
    };
    match existing(wanted) {
        None => (Some(wanted.clone()), chosen),
        Some(profile) => match profile_owner(profile) {
            Some(owner) if owner == desired.email => {
                let drifted = profile.is_managed() && !covers(&wanted.body, &profile.body);
                (drifted.then(|| wanted.clone()), chosen)
            }
            owner => (
                None,
                PersonalProfile::OwnerIsAnEarlierEmail {
                    name: wanted.name.clone(),
                    owner: owner.unwrap_or_default().to_owned(),
                },
            ),
        },
    }
}

/// True when a Profile carries this person's user label (their `sub`, or on a federated
/// sign-in the email hash of earlier versions).
fn is_persons_profile(profile: &Object, desired: &DesiredState) -> bool {
    profile.is_managed()
        && profile.meta("labels", USER_LABEL).is_some_and(|key| {
            key == desired.user_key || desired.legacy_user_key.as_deref() == Some(key)
        })
}
