//! The access report (rows and pages in [`crate::domain::offboarding::access`]): each cluster's group
//! Profiles, people's records and every RoleBinding of the group namespaces, read page by page
//! and kept only as far as this page of the report needs them. I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::api::ListParams;
use tokio::time::Instant;

use crate::app::App;
use crate::app::budget::{Budget, COMMAND_TIME};
use crate::app::clusters::ClusterSession;
use crate::domain::model::activity::{Activity, usable, user_key};
use crate::domain::model::objects::Kind;
use crate::domain::offboarding::access::{
    Access, AccessReport, Cursor, Page, ReportRequest, Section, TeamSetup, access_row,
    admits_person, inactive_row, subjects_of,
};
use crate::error::Error;
use crate::kubernetes::inventory::{
    PersonalProfile, ours, profiles, read_pages, read_pages_while, records,
};
use crate::kubernetes::policy::RequestPolicy;

/// What a cluster's personal Profiles and records say, kept for the report's second section.
struct PeopleRead {
    personal: BTreeMap<String, Vec<PersonalProfile>>,
    activity: BTreeMap<String, Activity>,
}

impl App {
    /// The page of the access report `request` asks for, over every cluster.
    pub async fn access_report(
        &self,
        request: &ReportRequest,
        remaining: Option<Duration>,
    ) -> Result<AccessReport, Error> {
        let deadline = Budget::new(Instant::now(), remaining, COMMAND_TIME).deadline;
        let now = (self.clock)();
        let mut page = Page::new(request, now, self.config.offboarding.inactive_days)
            .map_err(Error::BadRequest)?;
        let mut people = Vec::new();
        for (index, cluster) in self.clusters.iter().enumerate() {
            people.push(
                self.report_accesses(cluster, index, request, &mut page, deadline)
                    .await?,
            );
        }
        for (index, (cluster, read)) in self.clusters.iter().zip(&people).enumerate() {
            let mut personal: Vec<(&str, &PersonalProfile)> = read
                .personal
                .iter()
                .flat_map(|(key, profiles)| profiles.iter().map(move |p| (key.as_str(), p)))
                .collect();
            personal.sort_by(|a, b| a.1.name.cmp(&b.1.name));
            for (key, profile) in personal {
                let cursor = Cursor {
                    section: Section::InactiveProfiles,
                    cluster: index,
                    namespace: String::new(),
                    name: profile.name.clone(),
                };
                if request
                    .namespace
                    .as_deref()
                    .is_some_and(|n| n != profile.name)
                    || !admits_person(request, std::slice::from_ref(&profile.owner), Some(key))
                    || !page.wants(&cursor)
                {
                    continue;
                }
                let Some(activity) = read.activity.get(key) else {
                    continue;
                };
                let row = inactive_row(
                    &cluster.label(),
                    &profile.name,
                    &profile.owner,
                    key,
                    *activity,
                    now,
                    self.config.offboarding.inactive_days,
                );
                if let Some(row) = row
                    && !page.add_profile(&cursor, row)
                {
                    break;
                }
            }
        }
        Ok(page.finish())
    }

    /// Adds the RoleBindings of `cluster`'s group namespaces that belong on `page`; what its
    /// personal Profiles and records say, for the second section.
    async fn report_accesses(
        &self,
        cluster: &ClusterSession,
        index: usize,
        request: &ReportRequest,
        page: &mut Page,
        deadline: Instant,
    ) -> Result<PeopleRead, Error> {
        let client = cluster
            .client(RequestPolicy::for_command(deadline), false)
            .await?;
        let facts = cluster.facts(&client).await?;
        let (twins, _) = facts
            .twins(self.config.istio.authz)
            .map_err(Error::Conventions)?;
        let namespace = self.config.offboarding.records_namespace.as_str();
        let (found, read) = futures::join!(
            profiles(&client, &self.config.sign_in.group_profile_owner),
            records(&client, namespace),
        );
        let (found, read) = (found?, read?);
        let now = (self.clock)();
        let activity: BTreeMap<String, Activity> = read
            .people
            .into_iter()
            .filter_map(|(key, (activity, _))| Some((key, usable(activity, now)?)))
            .collect();
        let first = page.accesses_mut().len();
        // A page that starts on a later cluster, or is full, reads none of this one's.
        let started_later = request
            .start()
            .ok()
            .flatten()
            .is_some_and(|start| (start.section, start.cluster) > (Section::Accesses, index));
        if !started_later && !page.is_full() {
            let place = Place {
                label: cluster.label(),
                index,
                teams: &found.teams,
                activity: &activity,
            };
            let unreadable = add_bindings(&client, &place, request, page).await?;
            page.omit_unreadable(unreadable);
        }
        mark_twins(&client, &twins, &mut page.accesses_mut()[first..]).await?;
        Ok(PeopleRead {
            personal: found.personal,
            activity,
        })
    }
}

/// What an access row of one cluster needs to know.
struct Place<'a> {
    label: String,
    index: usize,
    /// The group namespaces, with what their Profile says of their role and quota.
    teams: &'a BTreeMap<String, TeamSetup>,
    activity: &'a BTreeMap<String, Activity>,
}

/// Adds the RoleBindings of the cluster's group namespaces that belong on `page`, in the API
/// server's order, until it is full: how many items were no RoleBinding.
async fn add_bindings(
    client: &kube::Client,
    place: &Place<'_>,
    request: &ReportRequest,
    page: &mut Page,
) -> Result<usize, Error> {
    read_pages_while(
        client,
        Kind::RoleBinding,
        None,
        ListParams::default(),
        |binding| {
            let Some(namespace) = binding.namespace.clone() else {
                return true;
            };
            let Some(team) = place.teams.get(&namespace) else {
                return true;
            };
            if request.namespace.as_deref().is_some_and(|n| n != namespace) {
                return true;
            }
            let cursor = Cursor {
                section: Section::Accesses,
                cluster: place.index,
                namespace,
                name: binding.name.clone(),
            };
            if !page.wants(&cursor) {
                return !page.is_full();
            }
            let key = user_key(&binding).filter(|_| binding.is_managed());
            if !admits_person(request, &subjects_of(&binding), key) {
                return true;
            }
            let managed = key.map(|key| (key, false, place.activity.get(key).copied()));
            page.add_access(
                &cursor,
                access_row(&place.label, &binding, Some(team), managed),
            )
        },
    )
    .await
}

/// Says of each managed row whether its Istio twin (of the kinds `twins`) is there.
async fn mark_twins(
    client: &kube::Client,
    twins: &[Kind],
    rows: &mut [Access],
) -> Result<(), Error> {
    let wanted: BTreeSet<(String, String)> = rows
        .iter()
        .filter(|a| a.managed)
        .map(|a| (a.namespace.clone(), a.binding.clone()))
        .collect();
    let mut present = BTreeSet::new();
    for kind in twins.iter().filter(|_| !wanted.is_empty()) {
        read_pages(client, *kind, None, ours(true), |twin| {
            let place = (
                twin.namespace.clone().unwrap_or_default(),
                twin.name.clone(),
            );
            if wanted.contains(&place) {
                present.insert(place);
            }
        })
        .await?;
    }
    for access in rows.iter_mut().filter(|a| a.managed) {
        let place = (access.namespace.clone(), access.binding.clone());
        access.istio_twin = Some(present.contains(&place));
    }
    Ok(())
}
