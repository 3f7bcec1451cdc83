//! The Istio model's view of the fake cluster: whether a request reaches a namespace's
//! workloads, the namespace's dataplane, waypoints. Pure (on the store).

#[allow(unused_imports)]
use super::*;

impl FakeCluster {
    /// Would this flavour's Istio let `request` into namespace `namespace`'s workloads?
    pub fn istio_admits(&self, namespace: &str, request: &crate::istio::Request) -> bool {
        let in_namespace = |kind: &str| -> Vec<Value> {
            self.all(kind)
                .into_iter()
                .filter(|o| o["metadata"]["namespace"] == namespace)
                .collect()
        };
        let policies = in_namespace("AuthorizationPolicy");
        let plane = self.dataplane(namespace);
        match self.shared.config.flavor {
            Flavor::Kubeflow12 if policies.is_empty() && plane == Dataplane::Sidecar => {
                crate::istio::service_role_bindings_allow(
                    &in_namespace("ServiceRoleBinding"),
                    request,
                )
            }
            _ => crate::istio::workload_admits(&plane, &policies, namespace, request),
        }
    }

    /// The data plane of `namespace`'s workloads, from its labels (see [`crate::istio`]).
    pub fn dataplane(&self, namespace: &str) -> Dataplane {
        let labels = self
            .get("Namespace", None, namespace)
            .map(|ns| ns["metadata"]["labels"].clone())
            .unwrap_or_default();
        let state = self.shared.lock();
        crate::istio::dataplane(&labels, namespace, |waypoint| {
            state
                .store
                .waypoints
                .contains(&(namespace.to_owned(), waypoint.to_owned()))
        })
    }

    /// Deploys a ready waypoint Gateway `name` in `namespace`, as an operator would
    /// (`istioctl waypoint apply`).
    pub fn add_waypoint(&self, namespace: &str, name: &str) {
        self.shared
            .lock()
            .store
            .waypoints
            .insert((namespace.to_owned(), name.to_owned()));
    }

    /// True when a notebook started in `namespace` now would be protected by the mesh: it gets
    /// a sidecar, or ambient with a waypoint to enforce header rules.
    pub fn workloads_are_protected(&self, namespace: &str) -> bool {
        matches!(
            self.dataplane(namespace),
            Dataplane::Sidecar | Dataplane::Ambient { waypoint: Some(_) }
        )
    }

    /// Would `email`'s request, made by the Pipelines UI on their behalf, get into `namespace`?
    pub fn admits_through_kfp_ui(&self, namespace: &str, email: &str) -> bool {
        let config = &self.shared.config;
        let request = crate::istio::Request::through_gateway(
            KFP_UI_PRINCIPAL,
            &config.userid_header,
            &format!("{}{email}", config.userid_prefix),
        );
        self.istio_admits(namespace, &request)
    }

    /// Would a person with userid `email` get into `namespace` through the ingress gateway?
    pub fn admits_user(&self, namespace: &str, email: &str) -> bool {
        let config = &self.shared.config;
        let request = crate::istio::Request::through_gateway(
            &config.gateway_principal,
            &config.userid_header,
            &format!("{}{email}", config.userid_prefix),
        );
        self.istio_admits(namespace, &request)
    }
}
