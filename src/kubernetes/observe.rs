//! What the cluster holds for a sign-in, read in one round trip of concurrent lists; and the
//! API groups it serves. I/O.

use std::collections::{BTreeSet, HashMap};

use futures::future::join_all;
use kube::api::ListParams;
use kube::core::{Expression, Selector};

use crate::domain::model::activity::record_name;
use crate::domain::model::mesh;
use crate::domain::model::objects::{
    Kind, MANAGED_BY_LABEL, MANAGER, NAMESPACE_NAME_LABEL, Object, PART_OF_LABEL, PART_OF_PROFILE,
    PROFILE_NAME_LABEL, USER_LABEL,
};
use crate::domain::sign_in::conventions::{ClusterFacts, OWNER_BINDING, OWNER_POLICY};
use crate::domain::sign_in::desired::DesiredState;
use crate::domain::sign_in::plan::{Observed, RecordState};
use crate::error::Error;
use crate::kubernetes::bounded;
use crate::kubernetes::policy::answer_too_large;
use crate::kubernetes::typed::KindApi;

/// The label selector of a person's managed objects: their `sub`, and (when it is looked up)
/// the label value earlier versions used.
pub fn user_selector(desired: &DesiredState) -> Selector {
    let keys: BTreeSet<String> = std::iter::once(desired.user_key.clone())
        .chain(desired.legacy_user_key.clone())
        .collect();
    Selector::from_iter([
        Expression::Equal(MANAGED_BY_LABEL.into(), MANAGER.into()),
        Expression::In(USER_LABEL.into(), keys),
    ])
}

/// The selector of the desired groups' namespaces and the personal Profile's, by the name
/// label the API server sets.
fn namespaces_selector(desired: &DesiredState) -> Selector {
    let names: BTreeSet<String> = desired
        .groups
        .iter()
        .map(|g| g.namespace.clone())
        .chain(desired.personal_profile.iter().map(|p| p.name.clone()))
        .chain(desired.also_read.iter().cloned())
        .collect();
    Selector::from(Expression::In(NAMESPACE_NAME_LABEL.into(), names))
}

/// What the cluster says about itself, in one round trip of concurrent requests: the API
/// groups it serves, one owner AuthorizationPolicy and one owner ServiceRoleBinding written by
/// the profile controller, whether this function has Istio objects of either kind, and the
/// mesh labels of a namespace the controller created. Every list is by name or label with a
/// `limit`: its cost does not grow with the cluster.
pub async fn discover(client: &kube::Client) -> Result<ClusterFacts, Error> {
    let named = |name: &str| {
        ListParams::default()
            .fields(&format!("metadata.name={name}"))
            .limit(1)
    };
    let ours = ListParams::default()
        .labels_from(&Selector::from(Expression::Equal(
            MANAGED_BY_LABEL.into(),
            MANAGER.into(),
        )))
        .limit(1);
    // Profile namespaces (the ConfigMap label every one gets) this function did not make: one of
    // them the controller created teaches its mesh labels. At most 20 are read.
    let profile_namespaces = ListParams::default()
        .labels_from(&Selector::from_iter([
            Expression::Equal(PART_OF_LABEL.into(), PART_OF_PROFILE.into()),
            Expression::NotEqual(MANAGED_BY_LABEL.into(), MANAGER.into()),
        ]))
        .limit(20);
    let (groups, owner_policy, owner_binding, our_policies, our_bindings, namespaces) = futures::join!(
        client.list_api_groups(),
        list_if_served(client, Kind::AuthorizationPolicy, named(OWNER_POLICY)),
        list_if_served(client, Kind::ServiceRoleBinding, named(OWNER_BINDING)),
        list_if_served(client, Kind::AuthorizationPolicy, ours.clone()),
        list_if_served(client, Kind::ServiceRoleBinding, ours),
        list(client, Kind::Namespace, profile_namespaces),
    );
    let groups = groups.map_err(|source| Error::kubernetes("discover", "API groups", source))?;
    let mut kinds_of_ours = Vec::new();
    if !our_policies?.is_empty() {
        kinds_of_ours.push(Kind::AuthorizationPolicy);
    }
    if !our_bindings?.is_empty() {
        kinds_of_ours.push(Kind::ServiceRoleBinding);
    }
    let mut facts = ClusterFacts::new(
        &groups,
        owner_policy?.into_iter().next(),
        owner_binding?.into_iter().next(),
        kinds_of_ours,
    );
    facts.mesh_labels = namespaces?
        .iter()
        .find_map(|namespace| mesh::learnt_from(namespace, false));
    Ok(facts)
}

/// Lists `kind`; nothing when the cluster does not serve it (404).
async fn list_if_served(
    client: &kube::Client,
    kind: Kind,
    params: ListParams,
) -> Result<Vec<Object>, Error> {
    match KindApi::new(client, kind, None).list(&params).await {
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
        other => other
            .map_err(|source| Error::kubernetes("list", &format!("{} list", kind.name()), source)),
    }
}

async fn list(client: &kube::Client, kind: Kind, params: ListParams) -> Result<Vec<Object>, Error> {
    KindApi::new(client, kind, None)
        .list(&params)
        .await
        .map_err(|source| Error::kubernetes("list", &format!("{} list", kind.name()), source))
}

/// Items per page of what a namespace admin can write (the person's labelled bindings, those
/// of a legacy name): most people's in one answer, when it is no larger than [`PERSON_ANSWER`].
const PERSON_PAGE: u32 = 250;
/// The most text of such a page: 250 of the function's objects are under 500 KiB. A larger
/// answer (objects a namespace admin made huge) is refused as it arrives, and the list goes on
/// [`SMALL_PAGE`] at a time.
const PERSON_ANSWER: usize = 2 * 1024 * 1024;
/// Items per page once a page was too large: the page's text is what is held at once.
const SMALL_PAGE: u32 = 20;
/// Pages of those read at most: a person has one binding and one twin per group, and a sign-in
/// makes at most [`crate::domain::sign_in::plan::MAX_CHANGES_PER_SIGN_IN`] changes.
const PERSON_PAGES: usize = 50;
/// The most text of those read by one list: the function's objects are under 2 KiB each.
const PERSON_BYTES: usize = 16 * 1024 * 1024;

/// Every object of `kind` matching `params`, page by page, leaving out those larger than
/// [`bounded::MAX_PARSED_ITEM`] unparsed: what a namespace admin stores under a person's label
/// or a legacy name neither fills the function's memory nor fails the sign-in. At most
/// [`PERSON_PAGES`] pages and [`PERSON_BYTES`] are read (logged).
async fn list_bounded(
    client: &kube::Client,
    kind: Kind,
    params: ListParams,
) -> Result<Vec<Object>, Error> {
    let mut params = params.limit(PERSON_PAGE);
    let mut answer_limit = Some(PERSON_ANSWER);
    let mut kept = Vec::new();
    let (mut left_out, mut bytes) = (0, 0);
    for _ in 0..PERSON_PAGES {
        let page = match bounded::list_page(client, kind, None, &params, false, answer_limit).await
        {
            Err(error) if answer_limit.is_some() && answer_too_large(&error) => {
                // The same page again, a few at a time.
                (params, answer_limit) = (params.limit(SMALL_PAGE), None);
                continue;
            }
            page => page.map_err(|source| {
                Error::kubernetes("list", &format!("{} list", kind.name()), source)
            })?,
        };
        left_out += page.oversized + page.unreadable;
        bytes += page.bytes;
        kept.extend(page.items);
        match page.next {
            Some(token) if bytes < PERSON_BYTES => params.continue_token = Some(token),
            Some(_) => break,
            None => {
                if left_out > 0 {
                    tracing::warn!(
                        kind = kind.name(),
                        left_out,
                        "objects labelled with the person, larger than any this function writes, were ignored"
                    );
                }
                return Ok(kept);
            }
        }
    }
    tracing::warn!(
        kind = kind.name(),
        read = kept.len(),
        bytes,
        "more objects labelled with the person than one sign-in reads; the rest are left for a later sign-in"
    );
    Ok(kept)
}

/// The Profiles a sign-in needs: its groups' namespaces, the personal Profile (and its
/// variant), and `extra` (the namespace the cluster's conventions are learnt from).
pub fn profile_names(desired: &DesiredState, extra: &[String]) -> BTreeSet<String> {
    desired
        .groups
        .iter()
        .map(|g| g.namespace.clone())
        .chain(desired.personal_profile.iter().map(|p| p.name.clone()))
        .chain(
            desired
                .personal_profile_variant
                .iter()
                .map(|p| p.name.clone()),
        )
        .chain(extra.iter().cloned())
        .chain(desired.also_read.iter().cloned())
        .collect()
}

/// Reads what the cluster holds for `desired` (its labels, group namespaces and legacy name),
/// objects of `binding_kinds` included, in one round trip of concurrent lists: Profiles by
/// their name label, so the answer does not grow with the number of other teams. The Profiles
/// still missing (made by an administrator or an earlier version, or those of namespaces the
/// person's objects are in) are then read by name, concurrently: a second round trip only
/// when there is such a Profile.
pub async fn observe(
    client: &kube::Client,
    desired: &DesiredState,
    binding_kinds: &[Kind],
    extra_profiles: &[String],
) -> Result<Observed, Error> {
    let persons = ListParams::default().labels_from(&user_selector(desired));
    let wanted = profile_names(desired, extra_profiles);
    let labelled = ListParams::default().labels_from(&Selector::from(Expression::In(
        PROFILE_NAME_LABEL.into(),
        wanted.clone(),
    )));
    let (profiles, namespaces, bindings, legacy, record) = futures::join!(
        list(client, Kind::Profile, labelled),
        async {
            if desired.groups.is_empty() && desired.personal_profile.is_none() {
                return Ok(Vec::new());
            }
            let params = ListParams::default().labels_from(&namespaces_selector(desired));
            list(client, Kind::Namespace, params).await
        },
        join_all(
            binding_kinds
                .iter()
                .map(|kind| list_bounded(client, *kind, persons.clone()))
        ),
        join_all(desired.legacy_binding_name.iter().flat_map(|name| {
            let by_name = ListParams::default().fields(&format!("metadata.name={name}"));
            binding_kinds
                .iter()
                .map(move |kind| list_bounded(client, *kind, by_name.clone()))
        })),
        read_record(client, desired),
    );
    let by_name = |objects: Vec<Object>| -> HashMap<String, Object> {
        objects.into_iter().map(|o| (o.name.clone(), o)).collect()
    };
    let mut profiles = by_name(profiles?);
    let namespaces = by_name(namespaces?);
    let bindings: Vec<Object> = bindings
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .concat();
    let legacy_bindings: Vec<Object> = legacy.into_iter().collect::<Result<Vec<_>, _>>()?.concat();
    // Read by name only what may exist unlabelled: a Profile whose namespace exists (a new
    // group has neither), and those of the namespaces the owner object and the person's objects
    // are in. A personal Profile's variant exists only if this function made it, labelled.
    let missing: BTreeSet<String> = wanted
        .into_iter()
        .filter(|name| namespaces.contains_key(name))
        .chain(extra_profiles.iter().cloned())
        .chain(
            bindings
                .iter()
                .chain(&legacy_bindings)
                .filter_map(|b| b.namespace.clone()),
        )
        .filter(|name| !profiles.contains_key(name))
        .collect();
    let api = KindApi::new(client, Kind::Profile, None);
    let read = join_all(missing.iter().map(|name| api.get_opt(name))).await;
    for (name, found) in missing.iter().zip(read) {
        let found = found
            .map_err(|source| Error::kubernetes("read", &format!("Profile {name}"), source))?;
        if let Some(profile) = found.and_then(|body| Object::from_body(Kind::Profile, body)) {
            profiles.insert(profile.name.clone(), profile);
        }
    }
    Ok(Observed {
        profiles,
        namespaces,
        bindings,
        legacy_bindings,
        record,
    })
}

/// The person's activity record, read in the same round trip as the rest. A record that cannot
/// be read never fails the sign-in: it is logged and left alone this time.
async fn read_record(client: &kube::Client, desired: &DesiredState) -> RecordState {
    let Some(name) = record_name(&desired.user_key) else {
        return RecordState::Unread;
    };
    let api = KindApi::new(client, Kind::Lease, Some(&desired.records_namespace));
    match api.get_opt(name).await {
        Ok(Some(body)) => {
            Object::from_body(Kind::Lease, body).map_or(RecordState::Unread, RecordState::Found)
        }
        Ok(None) => RecordState::Missing,
        Err(error) => {
            tracing::warn!(
                namespace = desired.records_namespace.as_str(),
                %error,
                "could not read the person's activity record; not recorded this time (make -s rbac | kubectl apply -f - makes its namespace and grants it)"
            );
            RecordState::Unread
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::test_config;
    use crate::domain::sign_in::admission::{Identity, Mode};
    use crate::domain::sign_in::conventions::Conventions;
    use crate::domain::sign_in::desired::desired_state;

    fn desired(mode: Mode, groups: &[&str]) -> DesiredState {
        let identity = Identity {
            user_name: "rumesh".into(),
            signed_in: true,
            sub: "sub-1".into(),
            email: "rumesh@corp.example".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        };
        desired_state(
            &identity,
            mode,
            &test_config(&[]),
            &Conventions::defaults(Vec::new()),
        )
    }

    #[test]
    fn selectors_name_the_person_and_the_groups_namespaces() {
        let granting = desired(Mode::Grant, &["b", "a"]);
        let legacy = crate::domain::model::names::legacy_user_label_value("rumesh@corp.example");
        assert_eq!(
            user_selector(&granting).to_string(),
            format!(
                "app.kubernetes.io/managed-by=kubeflow-profile-manager,kubeflow-profile-manager/user in ({legacy},sub-1)"
            )
        );
        assert_eq!(
            user_selector(&desired(Mode::RevokeOnly, &[])).to_string(),
            "app.kubernetes.io/managed-by=kubeflow-profile-manager,kubeflow-profile-manager/user in (sub-1)"
        );
        assert_eq!(
            namespaces_selector(&granting).to_string(),
            "kubernetes.io/metadata.name in (a,b,profile-rumesh)"
        );
    }
}
