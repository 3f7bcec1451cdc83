//! Loopback fakes for kubeflow-profile-manager's tests, local runs and benchmarks: a strict
//! Kubernetes API server with its own CA, EKS DescribeCluster, Cognito app clients, the Lambda Runtime API, and an
//! independent EKS token verifier.

pub mod apiserver;
pub mod cognito;
pub mod eks;
pub mod events;
pub mod istio;
pub mod local;
pub mod members;
pub mod runtime_api;
pub mod serve;
pub mod store;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A wall clock shared by the fakes and the code under test.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A clock that runs with real time plus an offset the test can move forward.
#[derive(Clone, Default)]
pub struct ShiftedClock {
    offset_secs: Arc<AtomicU64>,
}

impl ShiftedClock {
    pub fn now(&self) -> SystemTime {
        SystemTime::now() + Duration::from_secs(self.offset_secs.load(Ordering::SeqCst))
    }

    pub fn advance(&self, by: Duration) {
        self.offset_secs.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Arc::new(move || me.now())
    }
}
