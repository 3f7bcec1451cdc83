//! What a sign-in did: how each write's outcome folds into the report, what a dry run reports,
//! when the Python Lambda's bindings may go, and what `FAIL_MODE` makes of it all. Pure.

use crate::domain::config::FailMode;
use crate::domain::model::objects::Object;
use crate::domain::model::protected::Refusal;
use crate::domain::sign_in::desired::RefusedGroup;
use crate::domain::sign_in::plan::{GroupPlan, Plan};

/// What a sign-in did to the cluster.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SignInSummary {
    /// Namespaces the user has access to after the sign-in.
    pub granted: Vec<String>,
    /// Objects deleted (or, in a dry run, to be deleted).
    pub revoked: Vec<String>,
    pub refused: Vec<RefusedGroup>,
    /// Groups that need a grant this sign-in may not make (not an IdP assertion).
    pub withheld: Vec<String>,
    /// Groups left for the next sign-in by the bound on changes per sign-in.
    pub deferred: Vec<String>,
    /// Deletions left for the next sign-in by the same bound.
    pub deferred_deletions: usize,
    /// Objects created, applied or deleted (or, in a dry run, to be).
    pub changes: usize,
    /// Changes that failed, described for the log.
    pub failures: Vec<String>,
}

/// How one write ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    Done,
    /// The cluster holds something this function must not take over.
    Refused(Refusal),
    Failed(String),
}

/// A write the API server can refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    Create,
    Apply,
    Delete,
    /// A JSON merge patch: the object's body is the patch (a namespace brought into the mesh).
    Patch,
}

impl Write {
    /// The write as a dry run's change log names it.
    pub fn dry_run_action(self) -> &'static str {
        match self {
            Write::Create => "would-create",
            Write::Apply => "would-apply",
            Write::Delete => "would-delete",
            Write::Patch => "would-patch",
        }
    }

    /// The write as the change log names it.
    pub fn verb(self) -> &'static str {
        match self {
            Write::Create => "create",
            Write::Apply => "apply",
            Write::Delete => "delete",
            Write::Patch => "patch",
        }
    }
}

impl SignInSummary {
    /// The report of `plan` before any write: what was refused, withheld and deferred.
    pub fn of_plan(plan: &Plan) -> Self {
        SignInSummary {
            refused: plan.refused.clone(),
            withheld: plan.withheld.clone(),
            deferred: plan.deferred_groups.clone(),
            deferred_deletions: plan.deferred_deletions,
            changes: plan.writes(),
            ..SignInSummary::default()
        }
    }

    /// What a dry run of `plan` reports: every planned change as if it had been made.
    pub fn dry_run(plan: &Plan) -> Self {
        SignInSummary {
            granted: plan.groups.iter().map(|g| g.namespace.clone()).collect(),
            revoked: plan
                .revoke
                .iter()
                .chain(
                    plan.groups
                        .iter()
                        .flat_map(|g| g.remove_before.iter().chain(&g.remove_after)),
                )
                .chain(&plan.remove_legacy)
                .map(Object::describe)
                .collect(),
            ..SignInSummary::of_plan(plan)
        }
    }

    /// Adds the outcome of writing the personal Profile (`None`: nothing was written; a
    /// refusal leaves it alone, and the writer logs why).
    pub fn record_personal(&mut self, outcome: Option<WriteOutcome>) {
        if let Some(WriteOutcome::Failed(detail)) = outcome {
            self.failures.push(detail);
        }
    }

    /// Adds the outcomes of `group`'s writes: granted when every one went through; refused once,
    /// for its first refusal, however many of its writes were refused.
    pub fn record_group(&mut self, group: &GroupPlan, outcomes: Vec<WriteOutcome>) {
        let mut complete = true;
        let mut refused = false;
        for outcome in outcomes {
            match outcome {
                WriteOutcome::Done => {}
                WriteOutcome::Refused(reason) => {
                    complete = false;
                    if !refused {
                        refused = true;
                        self.refused.push(RefusedGroup::new(
                            &group.group,
                            Some(&group.namespace),
                            reason,
                        ));
                    }
                }
                WriteOutcome::Failed(detail) => {
                    complete = false;
                    self.failures.push(detail);
                }
            }
        }
        if complete {
            // A role change's old binding and twin went with it.
            self.revoked.extend(
                group
                    .remove_before
                    .iter()
                    .chain(&group.remove_after)
                    .map(Object::describe),
            );
            self.granted.push(group.namespace.clone());
        }
    }

    /// A group not started because the time left was less than one group takes: done at the
    /// next sign-in.
    pub fn record_deferred(&mut self, group: &GroupPlan) {
        self.deferred.push(group.group.clone());
        self.changes -= group.writes().min(self.changes);
    }

    /// Adds the outcomes of deleting `objects`: revoked, or failed.
    pub fn record_deletions(&mut self, objects: &[Object], outcomes: Vec<WriteOutcome>) {
        for (object, outcome) in objects.iter().zip(outcomes) {
            match outcome {
                WriteOutcome::Failed(detail) => self.failures.push(detail),
                _ => self.revoked.push(object.describe()),
            }
        }
    }

    /// The Python Lambda's bindings go once the new access is in place, not before: only when
    /// nothing of this sign-in failed.
    pub fn may_remove_legacy(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Every change `plan` makes, each with its kind of write.
pub fn planned_changes(plan: &Plan) -> Vec<(Write, &Object)> {
    plan.apply_personal_profile
        .iter()
        .map(|o| (Write::Apply, o))
        .chain(plan.groups.iter().flat_map(|g| {
            g.create_profile
                .iter()
                .map(|o| (Write::Create, o))
                .chain(g.label_profile.iter().map(|o| (Write::Apply, o)))
                .chain(g.update_quota.iter().map(|o| (Write::Patch, o)))
                .chain(g.create_namespace.iter().map(|o| (Write::Create, o)))
                .chain(g.repair_namespace.iter().map(|o| (Write::Patch, o)))
                .chain(g.create_bindings.iter().map(|o| (Write::Create, o)))
                .chain(g.remove_before.iter().map(|o| (Write::Delete, o)))
                .chain(g.repair_bindings.iter().map(|o| (Write::Apply, o)))
                .chain(g.remove_after.iter().map(|o| (Write::Delete, o)))
        }))
        .chain(
            plan.revoke
                .iter()
                .chain(&plan.remove_legacy)
                .map(|o| (Write::Delete, o)),
        )
        .collect()
}

/// What the sign-in comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInVerdict {
    /// Provisioned: the event goes back and the sign-in proceeds.
    Synchronised,
    /// Provisioning failed and `FAIL_MODE=open` lets the sign-in through.
    FailedOpen,
    /// Provisioning failed and `FAIL_MODE=closed` fails the sign-in.
    FailedClosed,
}

/// `FAIL_MODE`'s word on a sign-in, given the mode of each cluster where provisioning failed:
/// it fails when one of them is `closed`; a failure where it is `open` is let through.
pub fn verdict(failed: impl IntoIterator<Item = FailMode>) -> SignInVerdict {
    failed
        .into_iter()
        .fold(SignInVerdict::Synchronised, |verdict, mode| {
            match (verdict, mode) {
                (SignInVerdict::FailedClosed, _) | (_, FailMode::Closed) => {
                    SignInVerdict::FailedClosed
                }
                _ => SignInVerdict::FailedOpen,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::objects::Kind;
    use serde_json::Value;

    fn object() -> Object {
        Object::new(Kind::RoleBinding, Some("ml"), "user-x", Value::Null)
    }

    fn group(namespace: &str) -> GroupPlan {
        GroupPlan {
            group: namespace.to_uppercase(),
            namespace: namespace.into(),
            create_profile: None,
            create_namespace: None,
            repair_namespace: None,
            workloads_unreachable: false,
            create_bindings: Vec::new(),
            repair_bindings: Vec::new(),
            label_profile: None,
            update_quota: None,
            remove_before: Vec::new(),
            remove_after: Vec::new(),
        }
    }

    #[test]
    fn a_group_is_granted_only_when_every_write_went_through() {
        let mut report = SignInSummary::default();
        report.record_group(&group("a"), vec![WriteOutcome::Done, WriteOutcome::Done]);
        report.record_group(
            &group("b"),
            vec![
                WriteOutcome::Done,
                WriteOutcome::Refused(Refusal::NotAProfile),
            ],
        );
        report.record_group(&group("c"), vec![WriteOutcome::Failed("boom".into())]);
        report.record_group(&group("d"), Vec::new());
        assert_eq!(report.granted, ["a", "d"]);
        assert_eq!(report.refused.len(), 1, "one group, one refusal");
        assert_eq!(report.refused[0].group, "B");
        assert_eq!(report.refused[0].reason, Refusal::NotAProfile);
        assert_eq!(report.failures, ["boom"]);
        assert!(
            !report.may_remove_legacy(),
            "the new access is not all in place"
        );
    }

    #[test]
    fn a_deferred_group_is_reported_and_its_changes_not_counted() {
        let mut deferred = group("late");
        deferred.create_bindings = vec![object(), object()];
        let mut report = SignInSummary {
            changes: 5,
            ..SignInSummary::default()
        };
        report.record_deferred(&deferred);
        assert_eq!(report.deferred, ["LATE"]);
        assert_eq!(report.changes, 3);
        assert!(report.failures.is_empty(), "deferred is not failed");
    }

    #[test]
    fn deletions_that_found_nothing_still_count_as_revoked() {
        let mut report = SignInSummary::default();
        let objects = [object(), object()];
        report.record_deletions(
            &objects,
            vec![WriteOutcome::Done, WriteOutcome::Failed("x".into())],
        );
        assert_eq!(report.revoked, ["RoleBinding ml/user-x"]);
        assert_eq!(report.failures, ["x"]);
        assert!(SignInSummary::default().may_remove_legacy());
    }

    #[test]
    fn fail_mode_decides_only_failed_sign_ins_by_the_mode_of_the_clusters_that_failed() {
        assert_eq!(verdict([]), SignInVerdict::Synchronised);
        assert_eq!(verdict([FailMode::Open]), SignInVerdict::FailedOpen);
        assert_eq!(verdict([FailMode::Closed]), SignInVerdict::FailedClosed);
        assert_eq!(
            verdict([FailMode::Open, FailMode::Closed]),
            SignInVerdict::FailedClosed
        );
        assert_eq!(
            verdict([FailMode::Closed, FailMode::Open]),
            SignInVerdict::FailedClosed
        );
    }
}
