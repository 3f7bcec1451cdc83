//! What the API server's refusals mean for a write: a refusal of that group, nothing left to
//! do, or a failure, read from the `Status` it answers with. I/O (its vocabulary).

use kube::core::Status;

use crate::domain::model::objects::Object;
use crate::domain::model::protected::Refusal;
use crate::domain::sign_in::summary::{Write, WriteOutcome};

/// The cause kube-apiserver's NamespaceLifecycle admission gives a create in a namespace that
/// is being deleted (`corev1.NamespaceTerminatingCause`), in a 403 Forbidden.
pub const NAMESPACE_TERMINATING_CAUSE: &str = "NamespaceTerminating";

/// True when `status` refuses a create because its namespace is being deleted: recognised by
/// its own cause, never by "any 403" (a missing permission is a 403 too, and a failure).
pub fn is_namespace_terminating(status: &Status) -> bool {
    status.code == 403
        && status.details.as_ref().is_some_and(|details| {
            details
                .causes
                .iter()
                .any(|cause| cause.reason == NAMESPACE_TERMINATING_CAUSE)
        })
}

/// What the API server's refusal `status` of `write` on `object` means (a create's 409 is read
/// and judged by the caller). A create or apply in a namespace being deleted is refused, not
/// failed. An apply that conflicts (409) met a field someone else set, and a create or apply
/// found invalid (422) met what that namespace holds: refused. A delete that
/// finds the object gone (404) or replaced since it was listed (409, the uid precondition) has
/// nothing left to do. Anything else failed.
pub fn refusal_outcome(write: Write, status: &Status, object: &Object) -> WriteOutcome {
    match (write, status.code) {
        (Write::Create | Write::Apply, _) if is_namespace_terminating(status) => {
            WriteOutcome::Refused(Refusal::NamespaceTerminating)
        }
        // What the namespace holds refuses this write (another manager's field, an immutable
        // field, a validating admission policy or webhook of that namespace): that group is
        // refused, on this cluster only, never the whole sign-in.
        (Write::Apply, 409) | (Write::Create | Write::Apply, 422) => {
            WriteOutcome::Refused(Refusal::WriteRefused {
                detail: status_text(status),
            })
        }
        (Write::Delete, 404 | 409) => WriteOutcome::Done,
        _ => WriteOutcome::Failed(format!(
            "{} {}: {}",
            write.verb(),
            object.describe(),
            status_text(status)
        )),
    }
}

/// `code reason: message` of a Kubernetes `Status`, for logs.
pub fn status_text(status: &Status) -> String {
    format!("{} {}: {}", status.code, status.reason, status.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::objects::Kind;
    use serde_json::Value;

    fn status(code: u16, reason: &str) -> Status {
        let mut status = Status::failure("went wrong", reason);
        status.code = code;
        status
    }

    fn object() -> Object {
        Object::new(Kind::RoleBinding, Some("ml"), "user-x", Value::Null)
    }

    #[test]
    fn a_refused_write_is_a_refusal_nothing_to_do_or_a_failure() {
        let refused = |detail: &str| {
            WriteOutcome::Refused(Refusal::WriteRefused {
                detail: detail.into(),
            })
        };
        let cases = [
            (
                Write::Apply,
                status(409, "Conflict"),
                refused("409 Conflict: went wrong"),
            ),
            (
                Write::Apply,
                status(403, "Forbidden"),
                WriteOutcome::Failed(
                    "apply RoleBinding ml/user-x: 403 Forbidden: went wrong".into(),
                ),
            ),
            (
                Write::Create,
                status(422, "Invalid"),
                refused("422 Invalid: went wrong"),
            ),
            (
                Write::Create,
                status(500, "InternalError"),
                WriteOutcome::Failed(
                    "create RoleBinding ml/user-x: 500 InternalError: went wrong".into(),
                ),
            ),
            (Write::Delete, status(404, "NotFound"), WriteOutcome::Done),
            (
                Write::Delete,
                status(422, "Invalid"),
                WriteOutcome::Failed(
                    "delete RoleBinding ml/user-x: 422 Invalid: went wrong".into(),
                ),
            ),
            (Write::Delete, status(409, "Conflict"), WriteOutcome::Done),
            (
                Write::Delete,
                status(500, "InternalError"),
                WriteOutcome::Failed(
                    "delete RoleBinding ml/user-x: 500 InternalError: went wrong".into(),
                ),
            ),
        ];
        for (write, status, expected) in cases {
            assert_eq!(
                refusal_outcome(write, &status, &object()),
                expected,
                "{write:?} {}",
                status.code
            );
        }
    }

    #[test]
    fn a_namespace_being_deleted_is_a_refusal_by_its_cause_and_any_other_403_a_failure() {
        let mut terminating = status(403, "Forbidden");
        terminating.details = serde_json::from_value(serde_json::json!({
            "name": "user-x", "kind": "rolebindings",
            "causes": [{"reason": NAMESPACE_TERMINATING_CAUSE,
                        "message": "namespace ml is being terminated",
                        "field": "metadata.namespace"}],
        }))
        .unwrap();
        for write in [Write::Create, Write::Apply] {
            assert_eq!(
                refusal_outcome(write, &terminating, &object()),
                WriteOutcome::Refused(Refusal::NamespaceTerminating)
            );
            assert_eq!(
                refusal_outcome(write, &status(403, "Forbidden"), &object()),
                WriteOutcome::Failed(format!(
                    "{} RoleBinding ml/user-x: 403 Forbidden: went wrong",
                    write.verb()
                )),
                "a missing permission is no terminating namespace"
            );
        }
    }
}
